/*
 * flotilla-relay PORTDEV -- PROG [ARGS...]
 *
 * The default guest's console relay (assets/guest/console runs it): joins a virtio-serial port
 * (the engine's console socket on the host side) to PROG running on a new pty, as its session
 * leader with the pty as controlling terminal (job control, ^C). It replaced socat, whose
 * libraries (libssl, libcrypto, krb5, ...) were ~8 MB of the initramfs, and which wrote each
 * pty read (at most 4 KiB: n_tty's buffer) to the port on its own; here a burst of output leaves
 * in writes of up to 32 KiB (what the port takes per write), so there are fewer virtio kicks,
 * each an exit to QEMU under TCG.
 *
 * The port's rules, from the virtio_console driver:
 *  - while no host has the port's chardev open, a read returns 0 and poll() reports POLLHUP at
 *    once, every time. That means "host absent", not the end: wait (50 ms naps) and look again.
 *  - a write waits (here: EAGAIN, then poll) while the host is absent or its queue is full (QEMU
 *    throttles a port whose socket is full), so output waits in the pty rather than being lost.
 * Exits when PROG does (init respawns the console), after passing on what PROG printed last.
 *
 * NL -> CRLF is done here, not by the pty. With ONLCR the pty's line discipline hands each line
 * to the pty on its own, and then "\r\n" on its own (n_tty's process_output_block stops at every
 * newline): two pty writes per line, each waking the reader through a work item, which a guest
 * without KVM pays dearly for. Measured in the built-in guest under TCG: 16 MiB of 64-byte lines
 * crossed a pty at 0.6 MB/s with ONLCR and at 12 MB/s without. So the shell's pty has OPOST on
 * and ONLCR off, and the relay adds the CR to what it reads while the pty is in that state
 * (read from the master before each read: it is the slave's termios). A program that wants
 * output untouched switches OPOST off (raw mode, cfmakeraw) and gets it untouched; one that sets
 * ONLCR back (`stty sane`) gets the pty's own translation, slower, and no second CR from here.
 * What differs from a plain pty: `stty -a` shows -onlcr, and a program that clears ONLCR alone
 * (keeping OPOST) still gets CRLF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (32 * 1024) /* the most the port takes in one write */
#define IN_MAX 4096
#define ABSENT_NAP_MS 50
#define BURST_READ 2048 /* a pty read at least this big means a burst: more is likely coming */
#define STREAM_US 5000  /* output read this soon after the last port write is part of a stream */
#define COALESCE_US 500 /* how long a streaming read waits for more */
#define MAX_NAPS 64

static volatile sig_atomic_t child_done;

static void on_child(int sig) {
  (void)sig;
  child_done = 1;
}

static void die(const char *what) {
  fprintf(stderr, "flotilla-relay: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* What `stty sane` sets (socat's "sane" option): canonical input with echo and signals, CR→NL in,
 * the usual control characters; NL→CRLF out is the relay's (OPOST without ONLCR, see above). */
static void make_sane(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) < 0) die("tcgetattr");
  t.c_iflag &= ~(IGNBRK | INLCR | IGNCR | IXOFF | IUCLC | IXANY | PARMRK | ISTRIP);
  t.c_iflag |= BRKINT | ICRNL | IMAXBEL | IXON;
  t.c_oflag &= ~(OLCUC | OCRNL | ONOCR | ONLRET | OFILL | NLDLY | CRDLY | TABDLY | BSDLY | VTDLY | FFDLY);
  t.c_oflag &= ~ONLCR;
  t.c_oflag |= OPOST;
  t.c_cflag |= CREAD;
  t.c_lflag &= ~(ECHONL | NOFLSH | XCASE | TOSTOP | ECHOPRT);
  t.c_lflag |= ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
  t.c_cc[VINTR] = 3;    /* ^C */
  t.c_cc[VQUIT] = 28;   /* ^\ */
  t.c_cc[VERASE] = 127; /* DEL */
  t.c_cc[VKILL] = 21;   /* ^U */
  t.c_cc[VEOF] = 4;     /* ^D */
  t.c_cc[VSUSP] = 26;   /* ^Z */
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSANOW, &t) < 0) die("tcsetattr");
}


static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* When the last port write left; output read within STREAM_US of it is part of a stream. */
static long long last_put_us;

/* Reads what the pty has ready into buf[*len..cap), so that a burst leaves in one port write.
 * Returns -1 once PROG's side is gone (EIO: every slave fd closed).
 * The pty hands over at most 4 KiB a read, and line-by-line output (NL→CRLF: one pty write per
 * line) comes a line a read: sent as read, each line would be a port write and a virtio kick, an
 * exit to QEMU under TCG (a flood of short lines went at 0.03 MB/s). Nor can the relay wait in
 * poll(): every line wakes it. So while output streams (a port write went out less than
 * STREAM_US ago) or a read was big, the relay naps COALESCE_US before reading again, letting the
 * writer run (one vCPU), and keeps on while each nap brings more, up to 32 KiB. A lone small
 * write (an echo, a prompt after a pause) is sent as soon as it is read. */
/* The relay adds the CR of NL -> CRLF while the pty has OPOST on and ONLCR off (see above). */
static int relay_onlcr(int master) {
  struct termios t;
  if (tcgetattr(master, &t) < 0) return 0;
  return (t.c_oflag & OPOST) && !(t.c_oflag & ONLCR);
}

/* Turns each \n of buf[from..*len) into \r\n, in place; the caller left room for all of them. */
static void add_crs(char *buf, size_t from, size_t *len) {
  size_t nl = 0;
  for (char *q = buf + from; (q = memchr(q, '\n', (size_t)(buf + *len - q))) != NULL; q++) nl++;
  if (nl == 0) return;
  char *src = buf + *len, *dst = src + nl;
  *len += nl;
  while (nl > 0) {
    char *q = memrchr(buf + from, '\n', (size_t)(src - (buf + from)));
    size_t tail = (size_t)(src - q); /* the newline and what follows it */
    dst -= tail;
    memmove(dst, q, tail);
    *--dst = '\r';
    src = q;
    nl--;
  }
}

static int fill_from_pty(int master, char *buf, size_t *len, size_t cap) {
  size_t fresh = 0; /* bytes read since the last nap */
  int naps = 0;
  while (*len < cap) {
    /* asked before each read: what is read was written under the settings of that moment (a
     * program that switched mode since its last write is the one case this can get wrong) */
    int crs = relay_onlcr(master);
    size_t room = crs ? (cap - *len) / 2 : cap - *len;
    if (room == 0) break;
    ssize_t n = read(master, buf + *len, room);
    if (n > 0) {
      size_t from = *len;
      *len += (size_t)n;
      if (crs) add_crs(buf, from, len);
      fresh += (size_t)n;
      continue;
    }
    if (n == 0 || errno == EIO) return -1;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) die("read pty");
    if (fresh == 0 || naps >= MAX_NAPS) return 0;
    if (fresh < BURST_READ && now_us() - last_put_us > STREAM_US) return 0;
    struct timespec nap = {0, COALESCE_US * 1000L};
    nanosleep(&nap, NULL);
    naps++;
    fresh = 0;
  }
  return 0;
}

/* Writes as much of buf as the port takes now; returns what is left. Absent host: sets *absent. */
static size_t put_port(int port, char *buf, size_t len, int *absent) {
  while (len > 0) {
    ssize_t n = write(port, buf, len);
    if (n > 0) {
      memmove(buf, buf + n, len - (size_t)n);
      len -= (size_t)n;
      last_put_us = now_us();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) die("write port");
    struct pollfd p = {port, POLLOUT, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP)) *absent = 1;
    break;
  }
  return len;
}

int main(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: flotilla-relay PORTDEV -- PROG [ARGS...]\n");
    return 2;
  }
  int port = open(argv[1], O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (port < 0) die(argv[1]);
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) die("posix_openpt");
  if (grantpt(master) < 0 || unlockpt(master) < 0) die("grantpt/unlockpt");
  const char *slave_name = ptsname(master);
  if (!slave_name) die("ptsname");
  /* opened before the fork, so the pty has a slave from the start: a master whose slave is not
   * (or no longer) open reports POLLHUP and reads EIO, which means "PROG is gone" below */
  int slave = open(slave_name, O_RDWR | O_NOCTTY);
  if (slave < 0) die(slave_name);

  sigset_t chld, normal;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_child;
  sigaction(SIGCHLD, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* SIGCHLD is blocked except inside ppoll(), so an exit between the check and the wait is seen */
  sigprocmask(SIG_BLOCK, &chld, &normal);

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &normal, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    if (setsid() < 0) die("setsid");
    if (ioctl(slave, TIOCSCTTY, 0) < 0) die("TIOCSCTTY"); /* the new session's controlling tty */
    make_sane(slave);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    if (slave > 2) close(slave);
    close(master);
    execvp(argv[3], argv + 3);
    die(argv[3]);
  }
  close(slave);
  if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");

  static char out[OUT_MAX], in[IN_MAX];
  size_t outlen = 0, inlen = 0;
  int absent = 0, pty_gone = 0;
  for (;;) {
    if (child_done && waitpid(child, NULL, WNOHANG) == child) break;
    if (pty_gone && outlen == 0) break;
    /* while the host is absent the port is left out of poll (it would report POLLHUP at once,
     * every time); output stays in `out` and in the pty, and the port is looked at every 50 ms */
    struct pollfd p[2] = {
        {absent ? -1 : port, (short)((inlen < IN_MAX ? POLLIN : 0) | (outlen ? POLLOUT : 0)), 0},
        /* read from the pty only with room for a byte and its added CR: readable output that
         * cannot be taken would wake ppoll at once, every time, and starve the absent-host tick */
        {pty_gone ? -1 : master, (short)((outlen + 2 <= OUT_MAX ? POLLIN : 0) | (inlen ? POLLOUT : 0)), 0},
    };
    struct timespec tick = {0, ABSENT_NAP_MS * 1000000L};
    int r = ppoll(p, 2, absent ? &tick : NULL, &normal);
    if (r < 0 && errno != EINTR) die("ppoll");
    if (r <= 0) {
      if (absent) {
        struct pollfd q = {port, POLLOUT, 0};
        if (poll(&q, 1, 0) >= 0 && !(q.revents & POLLHUP)) absent = 0;
      }
      continue;
    }
    if (p[0].revents & POLLHUP) absent = 1;
    if (p[0].revents & POLLIN) {
      ssize_t n = read(port, in + inlen, IN_MAX - inlen);
      if (n > 0) inlen += (size_t)n;
      else if (n == 0) absent = 1; /* no host connected: not the end */
      else if (errno != EAGAIN && errno != EINTR) die("read port");
    }
    if (inlen) {
      ssize_t n = write(master, in, inlen);
      if (n > 0) {
        memmove(in, in + n, inlen - (size_t)n);
        inlen -= (size_t)n;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR && errno != EIO) die("write pty");
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (fill_from_pty(master, out, &outlen, OUT_MAX) < 0) pty_gone = 1;
    }
    if (outlen && !absent) outlen = put_port(port, out, outlen, &absent);
  }

  /* PROG has exited: pass on what it printed last (a bounded amount: a background job could
   * still be writing), waiting for a host if none is connected */
  fcntl(port, F_SETFL, fcntl(port, F_GETFL) & ~O_NONBLOCK);
  for (int round = 0; round < 64; round++) {
    if (!pty_gone && fill_from_pty(master, out, &outlen, OUT_MAX) < 0) pty_gone = 1;
    if (outlen == 0) break;
    for (size_t off = 0; off < outlen;) {
      ssize_t n = write(port, out + off, outlen - off);
      if (n > 0) off += (size_t)n;
      else if (n < 0 && errno != EINTR) return 1;
    }
    outlen = 0;
  }
  return 0;
}
