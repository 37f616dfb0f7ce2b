// A process-wide pool of scan threads, so that a search splits its blocks over cores without
// starting threads (starting two threads cost more than a whole scan of 50,000 int8 codes).
//
// Invariants:
//  - One job at a time. A run() that finds the pool busy (another thread's search is using it)
//    runs all of its tasks on the calling thread instead of waiting: searches never queue behind
//    each other, and results never depend on which thread ran a task.
//  - run() returns only after every task of its job has returned; no worker touches the job
//    afterwards, so tasks may refer to the caller's stack.
//  - Workers are started lazily, at most once per process (and again in a forked child, which
//    inherits none of them); a worker that cannot be started leaves its share to the others. They
//    are never joined: after a job they spin for up to 200 us (searches come in bursts), then
//    sleep on a condition variable until the next job or the end of the process.
#pragma once

#include <cstddef>
#include <functional>

namespace pocketvec::search {

// The number of threads run() can use at once, the calling thread included (>= 1).
std::size_t pool_threads();

// Runs task(i) for every i < n, on the pool's workers and the calling thread, and returns when all
// have finished. `task` must not throw (wrap it: scan_parallel records exceptions per range).
void pool_run(std::size_t n, const std::function<void(std::size_t)> &task);

}  // namespace pocketvec::search
