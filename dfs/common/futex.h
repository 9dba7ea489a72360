/*
 * futex.h - sleeping on a 32-bit word, for group-commit waiters.
 *
 * Why not a condition variable: a woken pthread_cond_wait() must take the
 * mutex back before it returns, so the whole group a sync wakes queues on
 * that mutex (a second sleep and wake-up per waiter, ~10 us each on this
 * kind of VM). A waiter that only needs to learn "my record is durable"
 * reads an atomic after the wake-up and goes, without the mutex.
 *
 * Protocol: read the word's value v (under the lock that decides whether
 * to wait), release the lock, dfs_futex_wait(word, v). The waker changes
 * the state, then dfs_futex_bump_wake(word): a waiter that had not gone to
 * sleep yet sees the new value and returns at once, so no wake-up is lost.
 * Wake-ups may be spurious: callers re-check their condition.
 */
#ifndef DFS_FUTEX_H
#define DFS_FUTEX_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Sleeps while *word still holds v (returns at once if it moved). */
static inline void dfs_futex_wait(_Atomic uint32_t *word, uint32_t v) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

/* Wakes up to n sleepers of word without changing it. */
static inline void dfs_futex_wake(_Atomic uint32_t *word, int n) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Moves the word on and wakes up to n of its sleepers (INT_MAX: all). */
static inline void dfs_futex_bump_wake(_Atomic uint32_t *word, int n) {
  atomic_fetch_add_explicit(word, 1, memory_order_release);
  dfs_futex_wake(word, n);
}

#endif
