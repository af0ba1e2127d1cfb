// strata's native addon: the few system calls Node has no API for — mount(2) and umount2(2),
// made directly instead of by spawning mount(8) and umount(8) (~5 ms per pair in a child process;
// the calls themselves well under 1 ms), mknod(2) (else one mknod(1) process per device node or
// overlay whiteout), and the l*xattr calls (loading this small addon costs a
// fraction of a general-purpose xattr package's loader), and copyFile: COPY's per-file work on open
// files (two path lookups through overlayfs instead of six). Built by node-gyp when the package is
// installed (binding.gyp); src/util/native.ts loads it, and callers fall back to the programs and
// to @napi-rs/xattr when it is missing.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHECK(call)                                                                               \
  do {                                                                                            \
    if ((call) != napi_ok) {                                                                      \
      napi_throw_error(env, NULL, "strata native: N-API call failed: " #call);                    \
      return NULL;                                                                                \
    }                                                                                             \
  } while (0)

// The `count` arguments of a call, in `argv`; throws (and returns) unless exactly that many came.
#define ARGUMENTS(count, name)                                                                    \
  size_t argc = count;                                                                            \
  napi_value argv[count];                                                                         \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                                    \
  if (argc != count) {                                                                            \
    napi_throw_type_error(env, NULL, "strata native: " name " takes " #count " arguments");       \
    return NULL;                                                                                  \
  }

// The symbolic name of an errno ("EBUSY"): glibc's own from 2.32, else the ones these calls
// return (Node supports glibc 2.28, which lacks strerrorname_np).
static const char *errno_name(int err) {
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 32)
  return strerrorname_np(err);
#endif
#endif
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case E2BIG: return "E2BIG";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case ENOTBLK: return "ENOTBLK";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case ENOTSUP: return "ENOTSUP";
    case ENOMEM: return "ENOMEM";
    case ENOTEMPTY: return "ENOTEMPTY";
    default: return NULL;
  }
}

// An Error shaped like Node's system errors: message, code ("EBUSY"), errno, syscall; NULL if
// it cannot be made.
static napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  const char *name = errno_name(err);
  char message[512];
  snprintf(message, sizeof message, "%s, %s '%s'", name ? name : "EUNKNOWN", strerror(err), path);
  napi_value msg, error, value;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, msg, &error) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "code", value);
  if (napi_create_int32(env, -err, &value) == napi_ok) napi_set_named_property(env, error, "errno", value);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "syscall", value);
  if (napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "path", value);
  return error;
}

// Throws errno_error(…); returns NULL, for `return throw_errno(…)`.
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_value error = errno_error(env, err, syscall, path);
  if (error) napi_throw(env, error);
  return NULL;
}

// A string argument as a malloc'd C string (NULL for null/undefined when `nullable`); *ok = 0 on error.
static char *string_arg(napi_env env, napi_value value, int nullable, int *ok) {
  napi_valuetype type;
  *ok = 0;
  if (napi_typeof(env, value, &type) != napi_ok) return NULL;
  if (nullable && (type == napi_null || type == napi_undefined)) {
    *ok = 1;
    return NULL;
  }
  if (type != napi_string) {
    napi_throw_type_error(env, NULL, "strata native: expected a string argument");
    return NULL;
  }
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *out = malloc(length + 1);
  if (!out) {
    napi_throw_error(env, NULL, "strata native: out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, value, out, length + 1, &length) != napi_ok) {
    free(out);
    return NULL;
  }
  if (strlen(out) != length) {  // an embedded NUL would silently cut the path short
    free(out);
    napi_throw_type_error(env, NULL, "strata native: string argument contains a NUL byte");
    return NULL;
  }
  *ok = 1;
  return out;
}

// mount(source, target, fstype, flags, data): mount(2).
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGUMENTS(5, "mount")
  int ok1, ok2, ok3, ok5;
  char *source = string_arg(env, argv[0], 0, &ok1);
  char *target = ok1 ? string_arg(env, argv[1], 0, &ok2) : NULL;
  char *fstype = ok1 && ok2 ? string_arg(env, argv[2], 0, &ok3) : NULL;
  uint32_t flags = 0;
  int ok4 = ok1 && ok2 && ok3 && napi_get_value_uint32(env, argv[3], &flags) == napi_ok;
  char *data = ok4 ? string_arg(env, argv[4], 1, &ok5) : NULL;
  napi_value result = NULL;
  if (ok4 && ok5) {
    if (mount(source, target, fstype, flags, data) != 0) throw_errno(env, errno, "mount", target);
    else napi_get_undefined(env, &result);
  } else if (ok1 && ok2 && ok3 && !ok4) {
    napi_throw_type_error(env, NULL, "strata native: mount flags must be a number");
  }
  free(source);
  free(target);
  free(fstype);
  free(data);
  return result;
}

// umount2(target, flags): umount2(2).
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  ARGUMENTS(2, "umount2")
  int ok;
  char *target = string_arg(env, argv[0], 0, &ok);
  if (!ok) return NULL;
  uint32_t flags;
  napi_value result = NULL;
  if (napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "strata native: umount2 flags must be a number");
  } else if (umount2(target, (int)flags) != 0) {
    throw_errno(env, errno, "umount2", target);
  } else {
    napi_get_undefined(env, &result);
  }
  free(target);
  return result;
}


// llistxattr(path): the names of a file's extended attributes (the link itself for a symlink).
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  ARGUMENTS(1, "llistxattr")
  int ok;
  char *path = string_arg(env, argv[0], 0, &ok);
  if (!ok) return NULL;
  char *names = NULL;
  ssize_t size;
  for (;;) {  // the list can grow between the size query and the read: ask again then
    size = llistxattr(path, NULL, 0);
    if (size <= 0) break;
    char *grown = realloc(names, (size_t)size);
    if (!grown) {
      size = -1;
      errno = ENOMEM;
      break;
    }
    names = grown;
    size = llistxattr(path, names, (size_t)size);
    if (size >= 0 || errno != ERANGE) break;
  }
  napi_value result = NULL;
  if (size < 0) {
    throw_errno(env, errno, "llistxattr", path);
  } else if (napi_create_array(env, &result) == napi_ok) {
    uint32_t index = 0;
    for (ssize_t at = 0; at < size;) {
      size_t length = strnlen(names + at, (size_t)(size - at));
      napi_value name;
      if (length > 0 && napi_create_string_utf8(env, names + at, length, &name) == napi_ok)
        napi_set_element(env, result, index++, name);
      at += (ssize_t)length + 1;
    }
  }
  free(names);
  free(path);
  return result;
}

// lgetxattr(path, name): the attribute's value as a Buffer, or null when it is not set.
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  ARGUMENTS(2, "lgetxattr")
  int ok1, ok2;
  char *path = string_arg(env, argv[0], 0, &ok1);
  char *name = ok1 ? string_arg(env, argv[1], 0, &ok2) : NULL;
  napi_value result = NULL;
  if (ok1 && ok2) {
    char *value = NULL;
    ssize_t size;
    for (;;) {
      size = lgetxattr(path, name, NULL, 0);
      if (size <= 0) break;  // an error, or an empty value (a second call with size 0 reads nothing)
      char *grown = realloc(value, (size_t)size);
      if (!grown) {
        size = -1;
        errno = ENOMEM;
        break;
      }
      value = grown;
      size = lgetxattr(path, name, value, (size_t)size);
      if (size >= 0 || errno != ERANGE) break;
    }
    if (size < 0 && errno == ENODATA) napi_get_null(env, &result);
    else if (size < 0) throw_errno(env, errno, "lgetxattr", path);
    else if (size == 0) napi_create_buffer(env, 0, NULL, &result);
    else napi_create_buffer_copy(env, (size_t)size, value, NULL, &result);
    free(value);
  }
  free(path);
  free(name);
  return result;
}

// lsetxattr(path, name, value: Buffer): sets an attribute (creating or replacing it).
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  ARGUMENTS(3, "lsetxattr")
  bool is_buffer = false;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "strata native: lsetxattr value must be a Buffer");
    return NULL;
  }
  void *data;
  size_t length;
  CHECK(napi_get_buffer_info(env, argv[2], &data, &length));
  int ok1, ok2;
  char *path = string_arg(env, argv[0], 0, &ok1);
  char *name = ok1 ? string_arg(env, argv[1], 0, &ok2) : NULL;
  napi_value result = NULL;
  if (ok1 && ok2) {
    if (lsetxattr(path, name, data, length, 0) != 0) throw_errno(env, errno, "lsetxattr", path);
    else napi_get_undefined(env, &result);
  }
  free(path);
  free(name);
  return result;
}


// Copies the contents of `in` to `out` from their current offsets: copy_file_range(2) (in the
// kernel, reflinked where the filesystem can), else read/write. 0 or an errno.
static int copy_contents(int in, int out) {
  int kernel = 1, copied = 0;
  for (;;) {
    if (kernel) {
      ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
      if (n > 0) {
        copied = 1;
        continue;
      }
      if (n == 0 && copied) return 0;  // end of file
      if (n == 0) {  // an empty file, or a filesystem that copies nothing this way: read() tells
        kernel = 0;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EPERM)
        return errno;
      kernel = 0;
    }
    char buffer[1 << 16];
    ssize_t n = read(in, buffer, sizeof buffer);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buffer + done, (size_t)(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      done += w;
    }
  }
}

// Copies every extended attribute of `in` to `out` but the overlay's own and SELinux labels (as
// COPY does: the destination filesystem labels its files). 0 or an errno.
static int copy_xattrs(int in, int out) {
  char *names = NULL;
  ssize_t size;
  for (;;) {
    size = flistxattr(in, NULL, 0);
    if (size <= 0) break;
    char *grown = realloc(names, (size_t)size);
    if (!grown) {
      free(names);
      return ENOMEM;
    }
    names = grown;
    size = flistxattr(in, names, (size_t)size);
    if (size >= 0 || errno != ERANGE) break;
  }
  if (size < 0) {
    int err = errno;
    free(names);
    return err == ENOTSUP ? 0 : err;
  }
  int err = 0;
  char *value = NULL;
  for (ssize_t at = 0; at < size && err == 0;) {
    const char *name = names + at;
    at += (ssize_t)strnlen(name, (size_t)(size - at)) + 1;
    if (*name == 0 || strncmp(name, "trusted.overlay.", 16) == 0 || strcmp(name, "security.selinux") == 0)
      continue;
    ssize_t length = fgetxattr(in, name, NULL, 0);
    if (length < 0) {
      if (errno != ENODATA) err = errno;  // removed meanwhile: nothing to copy
      continue;
    }
    char *grown = realloc(value, length > 0 ? (size_t)length : 1);
    if (!grown) {
      err = ENOMEM;
      break;
    }
    value = grown;
    length = fgetxattr(in, name, value, (size_t)length);
    if (length < 0) err = errno;
    else if (fsetxattr(out, name, value, (size_t)length, 0) != 0) err = errno;
  }
  free(value);
  free(names);
  return err;
}

static int js_number(napi_env env, napi_value value, double *out) {
  return napi_get_value_double(env, value, out) == napi_ok;
}

// copyFile(source, target, uid, gid, mode, atimeMs, mtimeMs): a new regular file `target` (never
// an existing one, never through a symlink: O_EXCL|O_NOFOLLOW) with the contents and extended
// attributes of `source` (not followed if a symlink), then owner, mode and times set on the open
// file. One call and two path lookups for what fs.copyFileSync, chown, the xattr calls and utimes
// do with six; on overlayfs each lookup is a walk through every layer.
static napi_value js_copyfile(napi_env env, napi_callback_info info) {
  ARGUMENTS(7, "copyFile")
  double uid, gid, mode, atime_ms, mtime_ms;
  if (!js_number(env, argv[2], &uid) || !js_number(env, argv[3], &gid) || !js_number(env, argv[4], &mode) ||
      !js_number(env, argv[5], &atime_ms) || !js_number(env, argv[6], &mtime_ms)) {
    napi_throw_type_error(env, NULL, "strata native: copyFile uid, gid, mode and times must be numbers");
    return NULL;
  }
  int ok1, ok2;
  char *source = string_arg(env, argv[0], 0, &ok1);
  char *target = ok1 ? string_arg(env, argv[1], 0, &ok2) : NULL;
  napi_value result = NULL;
  if (!ok1 || !ok2) goto done;
  int in = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) {
    throw_errno(env, errno, "open", source);
    goto done;
  }
  int out = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    throw_errno(env, errno, "open", target);
    close(in);
    goto done;
  }
  const char *failed = NULL;
  int err = copy_contents(in, out);
  if (err) failed = "copy_file_range";
  if (!err && (err = copy_xattrs(in, out))) failed = "fsetxattr";
  // Owner before mode: chown clears set-id bits.
  if (!err && fchown(out, (uid_t)uid, (gid_t)gid) != 0) err = errno, failed = "fchown";
  if (!err && fchmod(out, (mode_t)mode & 07777) != 0) err = errno, failed = "fchmod";
  if (!err) {
    struct timespec times[2];
    double ms[2] = {atime_ms, mtime_ms};
    for (int i = 0; i < 2; i++) {
      double seconds = ms[i] / 1000;
      times[i].tv_sec = (time_t)seconds;
      if ((double)times[i].tv_sec > seconds) times[i].tv_sec -= 1;  // floor for times before 1970
      long nanoseconds = (long)((ms[i] - (double)times[i].tv_sec * 1000) * 1e6);
      times[i].tv_nsec = nanoseconds < 0 ? 0 : nanoseconds > 999999999 ? 999999999 : nanoseconds;
    }
    if (futimens(out, times) != 0) err = errno, failed = "futimens";
  }
  close(in);
  if (close(out) != 0 && !err) err = errno, failed = "close";
  if (err) throw_errno(env, err, failed, target);
  else napi_get_undefined(env, &result);
done:
  free(source);
  free(target);
  return result;
}

// mknod(path, mode, major, minor): mknod(2) — device nodes, fifos, overlay whiteouts (0:0 char
// devices). `mode` carries the file type bits (S_IFCHR, S_IFBLK, S_IFIFO) and permissions; the
// umask applies, as with mknod(1).
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  ARGUMENTS(4, "mknod")
  uint32_t mode, major_number, minor_number;
  if (napi_get_value_uint32(env, argv[1], &mode) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &major_number) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &minor_number) != napi_ok) {
    napi_throw_type_error(env, NULL, "strata native: mknod mode, major and minor must be numbers");
    return NULL;
  }
  int ok;
  char *path = string_arg(env, argv[0], 0, &ok);
  if (!ok) return NULL;
  napi_value result = NULL;
  if (mknod(path, (mode_t)mode, makedev(major_number, minor_number)) != 0) throw_errno(env, errno, "mknod", path);
  else napi_get_undefined(env, &result);
  free(path);
  return result;
}

// The work of netNamespace(), done on a thread of its own: a network namespace is a property of
// the thread (task), so unshare(CLONE_NEWNET) there leaves Node's threads — and libuv's pool
// threads, which live on and run other work — where they are. The thread brings the new
// namespace's `lo` up (as runc does for a namespace it makes itself) and opens it; the open fd is
// what keeps the namespace alive once the thread is gone.
struct net_namespace_job {
  int fd;
  int err;
  const char *syscall;
  napi_deferred deferred;
  napi_async_work work;
};

static void *net_namespace_thread(void *arg) {
  struct net_namespace_job *job = arg;
  if (unshare(CLONE_NEWNET) != 0) {
    job->err = errno;
    job->syscall = "unshare";
    return NULL;
  }
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    job->err = errno;
    job->syscall = "socket";
    return NULL;
  }
  struct ifreq lo;
  memset(&lo, 0, sizeof lo);
  strncpy(lo.ifr_name, "lo", sizeof lo.ifr_name - 1);
  lo.ifr_flags = IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &lo) != 0) {
    job->err = errno;
    job->syscall = "ioctl(SIOCSIFFLAGS)";
    close(sock);
    return NULL;
  }
  close(sock);
  job->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (job->fd < 0) {
    job->err = errno;
    job->syscall = "open";
  }
  return NULL;
}

// On a thread of libuv's pool: starts the namespace's own thread and waits for it there, so that
// Node's thread is not held up by the thread's start, the unshare and the ioctl.
static void net_namespace_execute(napi_env env, void *data) {
  (void)env;
  struct net_namespace_job *job = data;
  pthread_t thread;
  int err = pthread_create(&thread, NULL, net_namespace_thread, job);
  if (err == 0) err = pthread_join(thread, NULL);
  if (err != 0 && job->err == 0) {
    job->err = err;
    job->syscall = "pthread_create";
  }
}

static void net_namespace_complete(napi_env env, napi_status status, void *data) {
  struct net_namespace_job *job = data;
  napi_value value;
  if (status == napi_ok && job->err == 0 && napi_create_int32(env, job->fd, &value) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    if (job->fd >= 0) close(job->fd);
    value = errno_error(env, job->err ? job->err : ECANCELED, job->syscall ? job->syscall : "netNamespace",
                        "network namespace");
    if (value) napi_reject_deferred(env, job->deferred, value);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

// netNamespace(): a promise of a new network namespace with `lo` up, as an open (close-on-exec)
// file descriptor; it lives until that fd and every other reference (a process inside, a bind
// mount) are gone — so a crashed strata leaves no namespace behind. In place of `ip netns add` (a
// process start, and a bind mount under /run/netns to remove again).
static napi_value js_net_namespace(napi_env env, napi_callback_info info) {
  (void)info;
  struct net_namespace_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "strata native: out of memory");
    return NULL;
  }
  job->fd = -1;
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "strata:netNamespace", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, net_namespace_execute, net_namespace_complete, job, &job->work) !=
          napi_ok) {
    free(job);  // a created promise is left unsettled: nothing holds it
    napi_throw_error(env, NULL, "strata native: cannot queue netNamespace");
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free(job);
    napi_throw_error(env, NULL, "strata native: cannot queue netNamespace");
    return NULL;
  }
  return promise;
}

// pipe(): a pipe as [read fd, write fd], both close-on-exec (Node has no API for a bare pipe).
static napi_value js_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, errno, "pipe2", "pipe");
  napi_value result, value;
  CHECK(napi_create_array_with_length(env, 2, &result));
  for (uint32_t i = 0; i < 2; i++) {
    CHECK(napi_create_int32(env, fds[i], &value));
    CHECK(napi_set_element(env, result, i, value));
  }
  return result;
}

// The work of spawnProcess, done on a thread of libuv's pool: glibc's posix_spawn (vfork) suspends
// only the calling thread until the child has exec'd.
struct spawn_job {
  char *file;
  char **argv;
  uint32_t argc;
  char **envp;  // a copy of Node's environment, made on Node's thread (where setenv runs)
  int *temporary;
  uint32_t nfds;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  pid_t pid;
  int err;
  napi_deferred deferred;
  napi_async_work work;
};

static void spawn_job_free(struct spawn_job *job) {
  if (job->temporary)
    for (uint32_t i = 0; i < job->nfds; i++)
      if (job->temporary[i] >= 0) close(job->temporary[i]);
  if (job->argv)
    for (uint32_t i = 0; i < job->argc; i++) free(job->argv[i]);
  if (job->envp)
    for (char **entry = job->envp; *entry; entry++) free(*entry);
  free(job->envp);
  posix_spawn_file_actions_destroy(&job->actions);
  posix_spawnattr_destroy(&job->attributes);
  free(job->argv);
  free(job->temporary);
  free(job->file);
  free(job);
}

static void spawn_execute(napi_env env, void *data) {
  (void)env;
  struct spawn_job *job = data;
  job->err = posix_spawn(&job->pid, job->file, &job->actions, &job->attributes, job->argv, job->envp);
}

static void spawn_complete(napi_env env, napi_status status, void *data) {
  struct spawn_job *job = data;
  napi_value value;
  if (status == napi_ok && job->err == 0) {
    if (napi_create_int32(env, job->pid, &value) == napi_ok) napi_resolve_deferred(env, job->deferred, value);
  } else {
    int err = job->err ? job->err : ECANCELED;
    const char *name = errno_name(err);
    char message[512];
    snprintf(message, sizeof message, "%s, %s '%s'", name ? name : "EUNKNOWN", strerror(err), job->file);
    napi_value msg, error;
    if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) == napi_ok &&
        napi_create_error(env, NULL, msg, &error) == napi_ok) {
      if (napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &value) == napi_ok)
        napi_set_named_property(env, error, "code", value);
      if (napi_create_string_utf8(env, "posix_spawn", NAPI_AUTO_LENGTH, &value) == napi_ok)
        napi_set_named_property(env, error, "syscall", value);
      napi_reject_deferred(env, job->deferred, error);
    }
  }
  napi_delete_async_work(env, job->work);
  spawn_job_free(job);
}

// spawnProcess(file, argv, fds): a promise of the pid of `file` (an absolute path) started by posix_spawn(3) with
// `argv` and Node's environment, signals at their defaults and none blocked, where the child's fd
// i is the caller's fds[i] (-1: /dev/null) and no other fd of the caller is inherited (Node opens
// its own close-on-exec; with glibc 2.34 or later, any other is closed in the child too). The caller reaps it with waitPid. In place of child_process.spawn for a
// helper started on every RUN: libuv forks on Node's one thread, which holds it up for the copy of
// the page tables (tens of ms on a loaded machine); this runs on the thread pool and shares memory.
static napi_value js_spawn_process(napi_env env, napi_callback_info info) {
  ARGUMENTS(3, "spawnProcess")
  struct spawn_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "strata native: out of memory");
    return NULL;
  }
  posix_spawn_file_actions_init(&job->actions);
  posix_spawnattr_init(&job->attributes);
  int ok;
  job->file = string_arg(env, argv[0], 0, &ok);
  if (!ok) goto fail;
  if (job->file[0] != '/') {
    // posix_spawn takes a name without a slash from the current directory (no PATH search): a
    // program of whoever wrote there, started as root. The caller resolves the path.
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "strata native: spawnProcess takes an absolute path");
    goto fail;
  }
  if (napi_get_array_length(env, argv[1], &job->argc) != napi_ok ||
      napi_get_array_length(env, argv[2], &job->nfds) != napi_ok || job->argc == 0 || job->nfds > 64) {
    napi_throw_type_error(env, NULL, "strata native: spawnProcess takes a file, a non-empty argv and up to 64 fds");
    goto fail;
  }
  job->argv = calloc(job->argc + 1, sizeof(char *));
  job->temporary = malloc(sizeof(int) * (job->nfds ? job->nfds : 1));
  if (!job->argv || !job->temporary) {
    napi_throw_error(env, NULL, "strata native: out of memory");
    goto fail;
  }
  for (uint32_t i = 0; i < job->nfds; i++) job->temporary[i] = -1;
  // The environment is copied here, on Node's thread: a setenv there (process.env.X = …) may
  // realloc `environ` while the pool thread would read it.
  extern char **environ;
  size_t count = 0;
  while (environ[count]) count++;
  job->envp = calloc(count + 1, sizeof(char *));
  if (!job->envp) {
    napi_throw_error(env, NULL, "strata native: out of memory");
    goto fail;
  }
  for (size_t i = 0; i < count; i++)
    if (!(job->envp[i] = strdup(environ[i]))) {
      napi_throw_error(env, NULL, "strata native: out of memory");
      goto fail;
    }
  for (uint32_t i = 0; i < job->argc; i++) {
    napi_value element;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok) goto fail;
    job->argv[i] = string_arg(env, element, 0, &ok);
    if (!ok) goto fail;
  }
  // Each source fd is first copied above the targets, so that dup2 onto its own number (which
  // would keep close-on-exec) never happens and no target overwrites a later source.
  int err = 0;
  for (uint32_t i = 0; i < job->nfds && err == 0; i++) {
    napi_value element;
    int32_t fd;
    if (napi_get_element(env, argv[2], i, &element) != napi_ok ||
        napi_get_value_int32(env, element, &fd) != napi_ok) {
      napi_throw_type_error(env, NULL, "strata native: spawnProcess fds must be numbers");
      goto fail;
    }
    if (fd < 0) {
      err = posix_spawn_file_actions_addopen(&job->actions, (int)i, "/dev/null", O_RDWR, 0);
      continue;
    }
    job->temporary[i] = fcntl(fd, F_DUPFD_CLOEXEC, 64);
    if (job->temporary[i] < 0) err = errno;
    else err = posix_spawn_file_actions_adddup2(&job->actions, job->temporary[i], (int)i);
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // An fd without close-on-exec (one inherited from strata's parent, or opened by another addon)
  // would otherwise reach the child: every fd above the child's own is closed in it.
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&job->actions, (int)job->nfds);
#endif
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  if (err == 0) err = posix_spawnattr_setsigdefault(&job->attributes, &all);
  if (err == 0) err = posix_spawnattr_setsigmask(&job->attributes, &none);
  if (err == 0) err = posix_spawnattr_setflags(&job->attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (err != 0) {
    throw_errno(env, err, "posix_spawn", job->file);
    goto fail;
  }
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "strata:spawnProcess", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, spawn_execute, spawn_complete, job, &job->work) != napi_ok) {
    napi_throw_error(env, NULL, "strata native: cannot queue spawnProcess");
    goto fail;  // a created promise is left unsettled: nothing holds it
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    napi_throw_error(env, NULL, "strata native: cannot queue spawnProcess");
    goto fail;
  }
  return promise;
fail:
  spawn_job_free(job);
  return NULL;
}

// waitPid(pid): waitpid(pid, WNOHANG) — null while the child runs, else its exit status (128+n
// when signal n killed it, the shell's convention).
static napi_value js_wait_pid(napi_env env, napi_callback_info info) {
  ARGUMENTS(1, "waitPid")
  int32_t pid;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "strata native: waitPid takes a pid");
    return NULL;
  }
  int status;
  pid_t done;
  do done = waitpid(pid, &status, WNOHANG);
  while (done < 0 && errno == EINTR);
  if (done < 0) return throw_errno(env, errno, "waitpid", "child");
  napi_value result;
  if (done == 0) CHECK(napi_get_null(env, &result));
  else CHECK(napi_create_int32(env, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "mount", NAPI_AUTO_LENGTH, js_mount, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "mount", fn));
  CHECK(napi_create_function(env, "umount2", NAPI_AUTO_LENGTH, js_umount2, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "umount2", fn));
  CHECK(napi_create_function(env, "llistxattr", NAPI_AUTO_LENGTH, js_llistxattr, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "llistxattr", fn));
  CHECK(napi_create_function(env, "lgetxattr", NAPI_AUTO_LENGTH, js_lgetxattr, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "lgetxattr", fn));
  CHECK(napi_create_function(env, "lsetxattr", NAPI_AUTO_LENGTH, js_lsetxattr, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "lsetxattr", fn));
  CHECK(napi_create_function(env, "mknod", NAPI_AUTO_LENGTH, js_mknod, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "mknod", fn));
  CHECK(napi_create_function(env, "copyFile", NAPI_AUTO_LENGTH, js_copyfile, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "copyFile", fn));
  CHECK(napi_create_function(env, "netNamespace", NAPI_AUTO_LENGTH, js_net_namespace, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "netNamespace", fn));
  CHECK(napi_create_function(env, "pipe", NAPI_AUTO_LENGTH, js_pipe, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "pipe", fn));
  CHECK(napi_create_function(env, "spawnProcess", NAPI_AUTO_LENGTH, js_spawn_process, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "spawnProcess", fn));
  CHECK(napi_create_function(env, "waitPid", NAPI_AUTO_LENGTH, js_wait_pid, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "waitPid", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
