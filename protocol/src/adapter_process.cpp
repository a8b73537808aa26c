#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "adamconf/process_implementation.hpp"

namespace adamconf {

namespace {

using Clock = std::chrono::steady_clock;

void make_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) throw AdapterFailure(std::string("cannot create a pipe: ") + std::strerror(errno), false);
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string describe_status(int status) {
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    std::string text = "exited with status " + std::to_string(code);
    // /bin/sh -c reports a child killed by signal N as status 128 + N
    if (code > 128 && code < 128 + 65)
      text += " (its command was killed by signal " + std::to_string(code - 128) + ", " + ::strsignal(code - 128) + ")";
    return text;
  }
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  ::strsignal(WTERMSIG(status)) + ")";
  return "stopped";
}

/// Adapters alive now: the orphan sweep must not kill another live adapter.
std::mutex live_mutex;
std::set<pid_t> live_adapters;

/// Every process's parent, from /proc (zombies too when asked: adopted ones must be reaped).
std::multimap<pid_t, pid_t> children_by_parent(bool with_zombies = false) {
  std::multimap<pid_t, pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (const dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string text;
    std::getline(stat, text);
    const auto close = text.rfind(')');  // the command name may hold spaces and ')'
    if (close == std::string::npos || close + 4 > text.size()) continue;
    char state = 0;
    int parent = 0;
    if (std::sscanf(text.c_str() + close + 1, " %c %d", &state, &parent) == 2 && (with_zombies || state != 'Z'))
      out.emplace(static_cast<pid_t>(parent), static_cast<pid_t>(std::atoi(e->d_name)));
  }
  ::closedir(proc);
  return out;
}

/// All descendants of `root` (not root itself), however they changed session or group.
std::vector<pid_t> descendants_of(pid_t root) {
  const auto tree = children_by_parent();
  std::vector<pid_t> out, frontier{root};
  while (!frontier.empty()) {
    const pid_t p = frontier.back();
    frontier.pop_back();
    for (auto [it, end] = tree.equal_range(p); it != end; ++it) {
      out.push_back(it->second);
      frontier.push_back(it->second);
    }
  }
  return out;
}

std::atomic<bool> adopting{false};

/// Kills and reaps children of adamconf that are not live adapters: the
/// adopted orphans of adapters that are gone.
void end_adopted_orphans() {
  if (!adopting) return;
  for (int round = 0; round < 3; ++round) {
    std::vector<pid_t> orphans;
    {
      std::lock_guard lock(live_mutex);
      const pid_t self = ::getpid();
      const auto tree = children_by_parent(true);
      for (auto [it, end] = tree.equal_range(self); it != end; ++it)
        if (!live_adapters.count(it->second)) orphans.push_back(it->second);
    }
    if (orphans.empty()) return;
    for (pid_t p : orphans) {
      for (pid_t d : descendants_of(p)) ::kill(d, SIGKILL);
      ::kill(p, SIGKILL);
    }
    for (pid_t p : orphans) ::waitpid(p, nullptr, 0);
  }
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

void adopt_adapter_orphans() {
  if (adopting.exchange(true)) return;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

AdapterProcess::AdapterProcess(const std::string& command, double timeout_seconds) : timeout_(timeout_seconds) {
  if (!(timeout_seconds > 0) || !std::isfinite(timeout_seconds) || timeout_seconds > kMaxTimeoutSeconds)
    throw AdapterFailure("a timeout of " + seconds_text(timeout_seconds) + " s: expected more than 0 and at most " +
                             seconds_text(kMaxTimeoutSeconds),
                         false);
  ::signal(SIGPIPE, SIG_IGN);  // a dead adapter's stdin gives EPIPE, not a signal
  int in[2], out[2], err[2];
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);
  pid_ = ::fork();
  if (pid_ < 0) throw AdapterFailure(std::string("cannot start the adapter: ") + std::strerror(errno), false);
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
  {
    std::lock_guard lock(live_mutex);
    live_adapters.insert(pid_);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_ = in[1];
  stdout_ = out[0];
  stderr_ = err[0];
  set_nonblocking(stdin_);
  set_nonblocking(stdout_);
  set_nonblocking(stderr_);
}

AdapterProcess::~AdapterProcess() {
  if (stdin_ >= 0) ::close(stdin_);
  if (!reaped_ && pid_ > 0) {
    // Give it a moment to exit at end of input (an adapter importing torch
    // needs more than 0.2 s to tear down), then kill it.
    for (int k = 0; k < 200 && !reaped_; ++k) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) reaped_ = true;
      else std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  kill_group();  // also after a normal exit: what it left running goes too
  if (stdout_ >= 0) ::close(stdout_);
  if (stderr_ >= 0) ::close(stderr_);
}

void AdapterProcess::kill_group() {
  if (pid_ <= 0 || killed_) return;
  killed_ = true;
  // Its descendants wherever they went (setsid, a new group), its group, itself.
  for (int round = 0; round < 3 && !reaped_; ++round) {
    const auto all = descendants_of(pid_);
    if (all.empty()) break;
    for (pid_t d : all) ::kill(d, SIGKILL);
  }
  ::kill(-pid_, SIGKILL);  // the group id stays reserved while any member lives
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &exit_status_, 0);
    reaped_ = true;
  }
  {
    std::lock_guard lock(live_mutex);
    live_adapters.erase(pid_);
  }
  end_adopted_orphans();
}

bool AdapterProcess::exited() {
  if (reaped_) return true;
  if (::waitpid(pid_, &exit_status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

void AdapterProcess::drain_stderr() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(stderr_, buf, sizeof buf);
    if (n <= 0) break;
    stderr_text_.append(buf, static_cast<std::size_t>(n));
    if (stderr_text_.size() > 16384) stderr_text_.erase(0, stderr_text_.size() - 8192);
  }
}

std::string AdapterProcess::stderr_tail() const {
  // the last three non-empty lines, joined
  std::vector<std::string> lines;
  std::string line;
  for (char c : stderr_text_) {
    if (c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  std::string out;
  for (std::size_t k = lines.size() > 3 ? lines.size() - 3 : 0; k < lines.size(); ++k)
    out += (out.empty() ? "" : " | ") + lines[k].substr(0, 200);
  return out;
}

void AdapterProcess::fail_exited(const std::string& what) {
  // the pipe closed or the process ended; wait a moment for its status
  for (int k = 0; k < 100 && !exited(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  drain_stderr();
  const std::string how = reaped_ ? describe_status(exit_status_) : "closed its stdout";
  kill_group();  // with whatever it left running
  const std::string tail = stderr_tail();
  throw AdapterFailure("adapter " + how + " before answering " + what + (tail.empty() ? "" : "; stderr: " + tail),
                       false);
}

std::string AdapterProcess::exchange(const std::string& request, const std::string& what, double timeout_seconds) {
  const double limit = timeout_seconds > 0 ? timeout_seconds : timeout_;
  const auto deadline = Clock::now() + std::chrono::duration<double>(limit);
  std::string line = request + "\n";
  std::size_t written = 0;
  for (;;) {
    // Search only the bytes not searched yet: a long line is read in linear time.
    const auto newline = pending_.find('\n', scanned_);
    scanned_ = newline == std::string::npos ? pending_.size() : newline;
    if (newline != std::string::npos && written == line.size()) {
      std::string answer = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      scanned_ = 0;
      return answer;
    }
    // An adapter that exited while a child of its holds stdout open: its
    // pipe never closes, so look at the process itself (after reading what it wrote).
    if (exited_before_answer_) fail_exited(what);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      kill_group();
      throw AdapterFailure("adapter did not answer " + what + " within " + seconds_text(limit) +
                               " s (killed; --timeout sets the limit)",
                           true);
    }
    pollfd fds[3] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}, {stdin_, POLLOUT, 0}};
    const nfds_t count = written < line.size() ? 3 : 2;
    const int ready = ::poll(fds, count, static_cast<int>(std::min<long long>(left, 100)));
    if (ready < 0 && errno != EINTR) throw AdapterFailure(std::string("poll failed: ") + std::strerror(errno), false);
    if (fds[1].revents) drain_stderr();
    if (count == 3 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(stdin_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EPIPE) fail_exited(what);
      if (n > 0) written += static_cast<std::size_t>(n);
    }
    if (ready == 0 && exited()) exited_before_answer_ = true;  // nothing left to read and it is gone
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      const ssize_t n = ::read(stdout_, buf, sizeof buf);
      if (n == 0) fail_exited(what);
      if (n > 0) {
        pending_.append(buf, static_cast<std::size_t>(n));
        if (pending_.size() > (std::size_t{1} << 28)) {
          kill_group();
          throw AdapterFailure("adapter answered " + what + " with more than 256 MiB without a newline", false);
        }
      }
    }
  }
}

}  // namespace adamconf
