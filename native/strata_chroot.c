// strata-chroot: runs one RUN step's process with chroot(2) into the step's root filesystem, in the
// namespaces of the strata process that starts it (`--isolation=chroot`, docs/kubernetes.md). It is
// what runc's init does for a container, minus everything that needs CAP_SYS_ADMIN: no namespaces,
// no mounts, no seccomp of its own (the surrounding container's profile applies).
//
//   strata-chroot ROOT CWD UID GID GROUPS CAPS RLIMITS DEVICES -- ARG0 ARGS...
//
//   GROUPS   supplementary gids, comma-separated, or "-" for none
//   CAPS     the capabilities the process may keep, as a hexadecimal mask (bit n = capability n);
//            the rest are dropped from the bounding, permitted, effective and inheritable sets
//   RLIMITS  "resource=soft:hard" entries (resource numbers), comma-separated, or "-"
//   DEVICES  "name:major:minor" character devices to make in /dev of the new root (mode 0666,
//            owned by root) before the process starts, comma-separated, or "-"
//
// The environment of the process is this program's own. ARG0 is looked up in the PATH of that
// environment inside the new root, as runc does. File descriptor 3 is an error channel: if
// anything fails before the process is executed, one line is written to it and the program exits
// with 127; on success the descriptor is closed by execve (close-on-exec).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

extern char **environ;

#define ERROR_FD 3

static void fail(const char *what, const char *arg, int err) {
  char line[4096];
  int n;
  if (err != 0)
    n = snprintf(line, sizeof line, "%s %s: %s\n", what, arg, strerror(err));
  else
    n = snprintf(line, sizeof line, "%s %s\n", what, arg);
  if (n > (int)sizeof line) n = sizeof line;
  if (write(ERROR_FD, line, (size_t)n) < 0) {
    // Nobody to tell: the exit status alone says the process did not start.
  }
  _exit(127);
}

static unsigned long long parse_number(const char *text, int base, const char *what) {
  char *end;
  errno = 0;
  unsigned long long value = strtoull(text, &end, base);
  if (errno != 0 || end == text || *end != '\0') fail("invalid", what, 0);
  return value;
}

static void set_groups(const char *list) {
  gid_t groups[256];
  size_t count = 0;
  if (strcmp(list, "-") != 0) {
    char *copy = strdup(list);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
      if (count == sizeof groups / sizeof groups[0]) fail("too many", "groups", 0);
      groups[count++] = (gid_t)parse_number(item, 10, "group");
    }
    free(copy);
  }
  if (syscall(SYS_setgroups, count, groups) != 0) fail("setgroups", list, errno);
}

static void set_rlimits(const char *list) {
  if (strcmp(list, "-") == 0) return;
  char *copy = strdup(list);
  for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    char *colon = eq == NULL ? NULL : strchr(eq, ':');
    if (eq == NULL || colon == NULL) fail("invalid rlimit", item, 0);
    *eq = '\0';
    *colon = '\0';
    struct rlimit limit = {
        .rlim_cur = (rlim_t)parse_number(eq + 1, 10, "rlimit"),
        .rlim_max = (rlim_t)parse_number(colon + 1, 10, "rlimit"),
    };
    if (setrlimit((int)parse_number(item, 10, "rlimit"), &limit) != 0) fail("setrlimit", item, errno);
  }
  free(copy);
}

static void make_devices(const char *list) {
  if (strcmp(list, "-") == 0) return;
  char *copy = strdup(list);
  for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
    char *first = strchr(item, ':');
    char *second = first == NULL ? NULL : strchr(first + 1, ':');
    if (first == NULL || second == NULL) fail("invalid device", item, 0);
    *first = '\0';
    *second = '\0';
    char path[256];
    snprintf(path, sizeof path, "/dev/%s", item);
    dev_t dev = makedev((unsigned)parse_number(first + 1, 10, "major"), (unsigned)parse_number(second + 1, 10, "minor"));
    // Inside the new root: a symlinked /dev resolves inside it, never to the host's.
    if (mknod(path, S_IFCHR | 0666, dev) != 0 && errno != EEXIST) fail("mknod", path, errno);
    if (chmod(path, 0666) != 0) fail("chmod", path, errno);
  }
  free(copy);
}

// Keeps only the capabilities in `keep` (bounding set first, while CAP_SETPCAP is still held).
static void limit_capabilities(unsigned long long keep) {
  for (int cap = 0; cap <= 63; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue; // not in the set, or unknown to the kernel
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) fail("dropping capability", "from the bounding set", errno);
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) != 0) fail("capget", "", errno);
  for (int i = 0; i < 2; i++) {
    unsigned int mask = (unsigned int)(keep >> (32 * i));
    data[i].effective &= mask;
    data[i].permitted &= mask;
    data[i].inheritable &= mask;
  }
  if (syscall(SYS_capset, &header, data) != 0) fail("capset", "", errno);
}

// The executable for `name`, found as runc finds it (Go's exec.LookPath in the container): a name
// with a slash is used as is; otherwise the first regular file with an execute bit in $PATH.
static const char *look_path(const char *name, char *buffer, size_t size) {
  if (strchr(name, '/') != NULL) return name;
  const char *path = getenv("PATH");
  if (path == NULL) path = "";
  for (const char *start = path;; ) {
    const char *end = strchr(start, ':');
    size_t len = end == NULL ? strlen(start) : (size_t)(end - start);
    if (len == 0)
      snprintf(buffer, size, "./%s", name);
    else
      snprintf(buffer, size, "%.*s/%s", (int)len, start, name);
    struct stat st;
    if (stat(buffer, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0) return buffer;
    if (end == NULL) break;
    start = end + 1;
  }
  char message[1024];
  snprintf(message, sizeof message, "\"%s\": executable file not found in $PATH", name);
  fail("exec:", message, 0);
  return NULL;
}

int main(int argc, char **argv) {
  if (fcntl(ERROR_FD, F_SETFD, FD_CLOEXEC) != 0) return 127;
  if (argc < 11 || strcmp(argv[9], "--") != 0) fail("usage:", "strata-chroot ROOT CWD UID GID GROUPS CAPS RLIMITS DEVICES -- ARGS", 0);
  const char *root = argv[1], *cwd = argv[2];
  uid_t uid = (uid_t)parse_number(argv[3], 10, "uid");
  gid_t gid = (gid_t)parse_number(argv[4], 10, "gid");
  unsigned long long keep = parse_number(argv[6], 16, "capabilities");

  set_rlimits(argv[7]);
  if (chdir(root) != 0) fail("chdir", root, errno);
  if (chroot(".") != 0) fail("chroot", root, errno);
  if (chdir("/") != 0) fail("chdir", "/", errno);
  make_devices(argv[8]);
  if (chdir(cwd) != 0) fail("chdir to working directory", cwd, errno);
  limit_capabilities(keep);
  set_groups(argv[5]);
  if (syscall(SYS_setresgid, gid, gid, gid) != 0) fail("setresgid", argv[4], errno);
  if (syscall(SYS_setresuid, uid, uid, uid) != 0) fail("setresuid", argv[3], errno);

  char buffer[4096];
  const char *file = argv[10];
  const char *path = look_path(file, buffer, sizeof buffer);
  execve(path, &argv[10], environ);
  int err = errno;
  char quoted[1024];
  snprintf(quoted, sizeof quoted, "\"%s\"", file);
  fail("exec:", quoted, err);
  return 127;
}
