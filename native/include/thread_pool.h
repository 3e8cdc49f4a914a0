// A fixed pool of std::threads that runs parallel_for(n, fn): task i always covers the same work, and
// tasks write disjoint outputs, so results never depend on scheduling. Threads default to the core
// count. The calling thread takes part, so a pool of 1 runs everything inline.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tunesmith {

class ThreadPool {
 public:
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(task) for task in [0, tasks); returns when all are done. fn must not throw across
  // threads: the first exception is captured and rethrown here.
  void parallel_for(int tasks, const std::function<void(int task)>& fn);

  static int default_threads();

 private:
  void worker_loop(int index);
  void run_tasks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int job_tasks_ = 0;
  int next_task_ = 0;
  int running_ = 0;
  long generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace tunesmith
