/*
 * pty-alone BYTES shell|raw
 *
 * A bench helper run inside the default guest (bench/lib/engine-benches.ts compiles it with the
 * host's gcc and writes it into a raw twin): how fast this guest moves bytes through a pty alone,
 * with no relay, no virtio port and no host. A child writes BYTES of 'x' to the slave in 128 KiB
 * writes (what `cat` does); the parent reads the master the way flotilla-relay does while output
 * streams (non-blocking reads, a 500 us nap when none is ready) and throws the bytes away.
 *
 *   shell: the console shell's settings (flotilla-relay's make_sane: OPOST on, ONLCR off), so the
 *          line discipline looks at each byte on its way out;
 *   raw:   cfmakeraw (OPOST off), what a full-screen program sets.
 *
 * Prints one line: "MBPS READS", timed from the first byte read to the last. Any console that
 * goes through this guest's pty is bounded by it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define WRITE_CHUNK (128 * 1024)
#define READ_MAX (16 * 1024)
#define NAP_NS 500000L

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what) {
  fprintf(stderr, "pty-alone: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[2], "shell") != 0 && strcmp(argv[2], "raw") != 0)) {
    fprintf(stderr, "usage: pty-alone BYTES shell|raw\n");
    return 2;
  }
  long long total = atoll(argv[1]);
  if (total <= 0) {
    fprintf(stderr, "pty-alone: BYTES must be a positive number, not %s\n", argv[1]);
    return 2;
  }
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) return fail("posix_openpt");
  if (grantpt(master) < 0 || unlockpt(master) < 0) return fail("grantpt/unlockpt");
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  if (slave < 0) return fail("open slave");
  struct termios t;
  if (tcgetattr(slave, &t) < 0) return fail("tcgetattr");
  if (strcmp(argv[2], "raw") == 0) {
    cfmakeraw(&t);
  } else {
    t.c_oflag |= OPOST;
    t.c_oflag &= ~ONLCR;
  }
  if (tcsetattr(slave, TCSANOW, &t) < 0) return fail("tcsetattr");

  pid_t child = fork();
  if (child < 0) return fail("fork");
  if (child == 0) {
    close(master);
    static char chunk[WRITE_CHUNK];
    memset(chunk, 'x', sizeof chunk);
    for (long long left = total; left > 0;) {
      ssize_t n = write(slave, chunk, left < WRITE_CHUNK ? (size_t)left : WRITE_CHUNK);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(1);
      left -= n;
    }
    _exit(0);
  }
  close(slave);
  if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) < 0) return fail("fcntl");

  static char buf[READ_MAX];
  long long got = 0, reads = 0;
  double first = 0, last = 0;
  while (got < total) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
      last = now_s();
      if (got == 0) first = last;
      got += n;
      reads++;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct timespec nap = {0, NAP_NS};
      nanosleep(&nap, NULL);
      continue;
    }
    return fail("read master");
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "pty-alone: the writer failed\n");
    return 1;
  }
  printf("%.3f %lld\n", (double)total / 1e6 / (last - first), reads);
  return 0;
}
