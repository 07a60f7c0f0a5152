// SPDX-License-Identifier: MIT
/*
 * Unit tests of engine/command.c: run real /bin/sh command lines and check
 * what a user would see - exit codes, output, environment, identity, kills.
 */
#include "command.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_LIMIT	65536
#define NOBODY		65534

static char test_path[] = "PATH=/usr/bin:/bin";
static char *const test_default_env[] = { test_path, NULL };

/* A command with the usual defaults; free with test_cmd_free(). */
static struct wq_command *test_cmd_new(const char *cmdline)
{
	struct wq_command *cmd = g_new0(struct wq_command, 1);

	wq_command_init(cmd);
	cmd->cmdline = cmdline;
	cmd->envp = test_default_env;
	cmd->output_limit = TEST_LIMIT;
	return cmd;
}

static void test_cmd_free(struct wq_command *cmd)
{
	wq_command_destroy(cmd);
	g_free(cmd);
}

/* The output kept, as a string. */
static char *test_output(struct wq_command *cmd, uint64_t *total)
{
	size_t len = wq_command_output(cmd, NULL, 0, NULL);
	char *buf = g_malloc0(len + 1);

	g_assert_cmpuint(wq_command_output(cmd, buf, len, total), ==, len);
	return buf;
}

/* Run cmdline; assert it ran, return its output and exit code. */
static char *test_run(const char *cmdline, int *exit_code)
{
	struct wq_command *cmd = test_cmd_new(cmdline);
	char *out;

	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	*exit_code = cmd->exit_code;
	out = test_output(cmd, NULL);
	test_cmd_free(cmd);
	return out;
}

static void test_assert_run(const char *cmdline, int code, const char *out)
{
	int exit_code;
	char *got = test_run(cmdline, &exit_code);

	g_assert_cmpstr(got, ==, out);
	g_assert_cmpint(exit_code, ==, code);
	g_free(got);
}

/* ---- killing from another thread ------------------------------------- */

struct test_killer {
	struct wq_command *cmd;
	const char *ready;		/* kill once the output contains it */
	gint64 killed_at;		/* g_get_monotonic_time() */
};

/* Wait (bounded) until the command's output contains text. */
static void test_wait_output(struct wq_command *cmd, const char *text)
{
	gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	char *out;

	for (;;) {
		out = test_output(cmd, NULL);
		if (strstr(out, text))
			break;
		g_free(out);
		g_assert_cmpint(g_get_monotonic_time(), <, end);
		g_usleep(1000);
	}
	g_free(out);
}

static gpointer test_killer_main(gpointer data)
{
	struct test_killer *k = data;

	test_wait_output(k->cmd, k->ready);
	k->killed_at = g_get_monotonic_time();
	wq_command_kill(k->cmd);
	return NULL;
}

/* Run cmd, killing it from another thread once it printed ready. */
static gint64 test_run_killed(struct wq_command *cmd, const char *ready)
{
	struct test_killer k = { .cmd = cmd, .ready = ready };
	GThread *thread = g_thread_new("killer", test_killer_main, &k);

	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_thread_join(thread);
	return g_get_monotonic_time() - k.killed_at;
}

/* ---- tests ----------------------------------------------------------- */

static void test_exit_code(void)
{
	test_assert_run("true", 0, "");
	test_assert_run("exit 42", 42, "");
	test_assert_run("false", 1, "");
	test_assert_run("no-such-command-wqfs 2>/dev/null", 127, "");
}

static void test_signal_exit(void)
{
	struct wq_command *cmd = test_cmd_new("kill -9 $$");

	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_true(WIFSIGNALED(cmd->wait_status));
	g_assert_cmpint(WTERMSIG(cmd->wait_status), ==, SIGKILL);
	g_assert_cmpint(cmd->exit_code, ==, 128 + SIGKILL);
	g_assert_cmpint(cmd->pid, >, 0);
	test_cmd_free(cmd);
}

static void test_output_captured(void)
{
	test_assert_run("echo out; echo err >&2; echo out2; printf end >&2", 0,
			"out\nerr\nout2\nend");
}

/* Small ring, many small writes: the kept bytes are the last ones. */
static void test_output_ring(void)
{
	struct wq_command *cmd = test_cmd_new(
		"for i in 1 2 3 4 5 6 7 8 9; do echo $i$i$i; done");
	uint64_t total;
	char four[4];
	char *out;

	cmd->output_limit = 7;
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, &total);
	g_assert_cmpstr(out, ==, "88\n999\n");
	g_assert_cmpuint(total, ==, 36);
	g_free(out);

	/* A short buffer gets the newest bytes. */
	g_assert_cmpuint(wq_command_output(cmd, four, sizeof(four), NULL), ==, 4);
	g_assert_cmpmem(four, 4, "999\n", 4);

	/* By offsets of all the run wrote: kept from 29 (the ring wrapped). */
	uint64_t start;
	g_assert_cmpuint(wq_command_output_at(cmd, 30, four, sizeof(four), &start,
					      &total), ==, 4);
	g_assert_cmpmem(four, 4, "8\n99", 4);
	g_assert_cmpuint(start, ==, 29);
	g_assert_cmpuint(total, ==, 36);
	g_assert_cmpuint(wq_command_output_at(cmd, 34, four, sizeof(four), &start,
					      &total), ==, 2);
	g_assert_cmpmem(four, 2, "9\n", 2);
	g_assert_cmpuint(wq_command_output_at(cmd, 28, four, sizeof(four), &start,
					      &total), ==, 0);	/* not kept */
	g_assert_cmpuint(wq_command_output_at(cmd, 36, four, sizeof(four), &start,
					      &total), ==, 0);	/* the end */

	/* The next run starts empty; the ring is reused. */
	cmd->cmdline = "echo a";
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, &total);
	g_assert_cmpstr(out, ==, "a\n");
	g_assert_cmpuint(total, ==, 2);
	g_free(out);

	/* A limit of 0 keeps nothing but still counts. */
	cmd->output_limit = 0;
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpuint(wq_command_output(cmd, four, sizeof(four), &total),
			 ==, 0);
	g_assert_cmpuint(total, ==, 2);
	test_cmd_free(cmd);
}

static void test_output_bounded(void)
{
	const uint64_t all = 104857600;
	GString *tail = g_string_new(NULL);
	struct wq_command *cmd;
	uint64_t total;
	char *cmdline, *out;
	int i;

	for (i = 1; i <= 5000; i++)
		g_string_append_printf(tail, "%d\n", i);
	cmdline = g_strdup_printf("head -c %" G_GUINT64_FORMAT
				  " /dev/zero; seq 1 5000",
				  all - tail->len);
	cmd = test_cmd_new(cmdline);
	cmd->output_limit = 10000;	/* not a divisor of any chunk */
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	out = test_output(cmd, &total);
	g_assert_cmpuint(total, ==, all);
	g_assert_cmpuint(strlen(out), ==, 10000);
	g_assert_cmpstr(out, ==, tail->str + tail->len - 10000);
	g_free(out);
	test_cmd_free(cmd);
	g_free(cmdline);
	g_string_free(tail, TRUE);
}

static void test_env(void)
{
	char foo[] = "FOO=bar baz", work[] = "WQ_WORK=w1";
	char *const env[] = { foo, work, NULL };
	struct wq_command *cmd = test_cmd_new(
		"echo \"${FOO-unset} ${WQ_WORK-unset} ${HOME-unset}\"");
	char *out;

	g_assert_true(g_setenv("HOME", "/root", TRUE));
	cmd->envp = env;
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "bar baz w1 unset\n");
	g_free(out);

	/* NULL: an empty environment. */
	cmd->envp = NULL;
	cmd->cmdline = "echo \"${FOO-unset} ${HOME-unset}\"";
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "unset unset\n");
	g_free(out);
	test_cmd_free(cmd);
}

static void test_cwd(void)
{
	char *dir = g_dir_make_tmp("wqfs-cmd-XXXXXX", NULL);
	char *real = realpath(dir, NULL);
	char *want = g_strconcat(real, "\n", NULL);
	struct wq_command *cmd = test_cmd_new("pwd -P");
	char *out;

	cmd->cwd = dir;
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, want);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	g_free(out);
	test_cmd_free(cmd);
	g_assert_cmpint(rmdir(dir), ==, 0);
	g_free(want);
	free(real);
	g_free(dir);
}

static void test_bad_cwd(void)
{
	struct wq_command *cmd = test_cmd_new("echo should not run");
	char *out;

	cmd->cwd = "/nonexistent-wqfs/dir";
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(cmd->exit_code, ==, 127);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "wqfs: cd /nonexistent-wqfs/dir: "
			"No such file or directory\n");
	g_free(out);
	test_cmd_free(cmd);
}

static void test_kill(void)
{
	struct wq_command *cmd = test_cmd_new("echo started; sleep 100");
	gint64 took;

	took = test_run_killed(cmd, "started");
	g_assert_cmpint(cmd->exit_code, ==, 128 + SIGTERM);
	g_assert_cmpint(took, <, 1 * G_USEC_PER_SEC);

	/* The request ended with the run: the next one is not killed. */
	cmd->cmdline = "exit 5";
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(cmd->exit_code, ==, 5);
	test_cmd_free(cmd);
}

/* A kill asked for before the child started stops it once it has. */
static void test_kill_before_start(void)
{
	struct wq_command *cmd = test_cmd_new("sleep 100");
	gint64 start = g_get_monotonic_time();

	wq_command_kill(cmd);
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(cmd->exit_code, ==, 128 + SIGTERM);
	g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC);
	test_cmd_free(cmd);
}

static void test_kill_escalates(void)
{
	struct wq_command *cmd = test_cmd_new(
		"trap '' TERM; echo ready; exec sleep 100");
	gint64 took;
	char *out;

	cmd->kill_grace_ms = 300;
	took = test_run_killed(cmd, "ready");
	g_assert_cmpint(cmd->exit_code, ==, 128 + SIGKILL);
	g_assert_cmpint(took, >=, 300 * 1000);
	g_assert_cmpint(took, <, 3 * G_USEC_PER_SEC);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "ready\n");
	g_free(out);
	test_cmd_free(cmd);
}

/* Wait (bounded) until the process behind pidfd has exited. */
static void test_assert_exits(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	g_assert_cmpint(poll(&pfd, 1, 5000), ==, 1);
	close(pidfd);
}

static void test_kill_process_group(void)
{
	struct wq_command *cmd = test_cmd_new(
		"sleep 100 & echo \"bg $!\"; wait");
	char *out;
	int bg = 0, pidfd;

	test_run_killed(cmd, "\n");	/* once "bg PID" is out */
	g_assert_cmpint(cmd->exit_code, ==, 128 + SIGTERM);
	out = test_output(cmd, NULL);
	g_assert_cmpint(sscanf(out, "bg %d", &bg), ==, 1);
	g_free(out);
	/* Gone already, or dying: a pidfd of it must report the exit. */
	pidfd = syscall(SYS_pidfd_open, bg, 0);
	if (pidfd >= 0)
		test_assert_exits(pidfd);
	else
		g_assert_cmpint(errno, ==, ESRCH);
	test_cmd_free(cmd);
}

static void test_background_child(void)
{
	struct wq_command *cmd = test_cmd_new("sleep 100 & echo hi");
	gint64 start = g_get_monotonic_time();
	char *out;

	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "hi\n");
	g_free(out);
	kill(-cmd->pid, SIGKILL);	/* the sleep left behind */
	test_cmd_free(cmd);
}

static void test_closes_stdout(void)
{
	test_assert_run("exec >&-; sleep 0.2; exit 3", 3, "");
	test_assert_run("echo x; exec >&- 2>&-; sleep 0.2; exit 4", 4, "x\n");
}

static void test_cpu_time(void)
{
	/* A fixed amount of work (~0.2 s), not a wall-clock time: a busy
	 * machine must not make it fail. */
	struct wq_command *cmd = test_cmd_new(
		"i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done");

	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	g_assert_cmpuint(cmd->cpu_ns, >, 50000000);
	test_cmd_free(cmd);
}

static const gid_t nobody_groups[] = { NOBODY };
static const struct wq_cred nobody = {
	.uid = NOBODY, .gid = NOBODY,
	.groups = nobody_groups, .ngroups = 1,
};

static void test_switch_user(void)
{
	struct wq_command *cmd = test_cmd_new("id -u; id -g; id -G");
	char *out;

	cmd->cred = &nobody;
	cmd->cwd = "/";
	if (!wq_command_can_switch_user()) {
		g_assert_cmpint(wq_command_run(cmd), ==, -EPERM);
		test_cmd_free(cmd);
		return;
	}
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "65534\n65534\n65534\n");
	g_assert_cmpint(cmd->exit_code, ==, 0);
	g_free(out);
	test_cmd_free(cmd);
}

/* In a child process dropped to nobody: other users are refused. */
static void test_switch_user_eperm_child(void)
{
	static const struct wq_cred root = { .uid = 0, .gid = 0 };
	struct wq_command *cmd = test_cmd_new("echo ran");
	struct wq_cred self;
	char *out;

	if (geteuid() == 0) {
		g_assert_cmpint(setgroups(1, nobody_groups), ==, 0);
		g_assert_cmpint(setresgid(NOBODY, NOBODY, NOBODY), ==, 0);
		g_assert_cmpint(setresuid(NOBODY, NOBODY, NOBODY), ==, 0);
	}
	g_assert_false(wq_command_can_switch_user());
	cmd->cwd = "/";
	cmd->cred = &root;
	g_assert_cmpint(wq_command_run(cmd), ==, -EPERM);
	g_assert_cmpuint(wq_command_output(cmd, NULL, 0, NULL), ==, 0);

	/* Its own identity is fine. */
	self = (struct wq_cred){ .uid = geteuid(), .gid = getegid() };
	cmd->cred = &self;
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "ran\n");
	g_free(out);
	test_cmd_free(cmd);
}

static void test_switch_user_eperm(void)
{
	if (g_test_subprocess()) {
		test_switch_user_eperm_child();
		return;
	}
	g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC,
			       G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
}

static void test_no_sigchld_theft(void)
{
	pid_t pid = fork();
	int status = 0, exit_code, i;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(42);
	/* Our zombie sits there while commands run and are reaped. */
	for (i = 0; i < 3; i++)
		g_free(test_run("exit 7", &exit_code));
	g_assert_cmpint(exit_code, ==, 7);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 42);
}

/* The daemon ignores SIGPIPE and blocks signals: the command must not. */
static void test_signals_default(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigset_t usr1, oldmask;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	g_assert_cmpint(sigaction(SIGPIPE, &ign, &old), ==, 0);
	g_assert_cmpint(pthread_sigmask(SIG_BLOCK, &usr1, &oldmask), ==, 0);
	test_assert_run("grep -E '^Sig(Blk|Ign)' /proc/self/status", 0,
			"SigBlk:\t0000000000000000\n"
			"SigIgn:\t0000000000000000\n");
	/* A reader that goes away kills the writer with SIGPIPE. */
	test_assert_run("(yes; echo \"yes $?\" >&2) | head -n 1 >/dev/null",
			0, "yes 141\n");
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	sigaction(SIGPIPE, &old, NULL);
}

/* Only stdin (/dev/null), stdout and stderr reach the command. */
static void test_fds(void)
{
	int leak = open("/dev/null", O_RDONLY);	/* no O_CLOEXEC */

	g_assert_cmpint(leak, >=, 0);
	test_assert_run("ls /proc/$$/fd; readlink /proc/$$/fd/0", 0,
			"0\n1\n2\n/dev/null\n");
	close(leak);
}

/* The daemon may run with fds 0..2 closed: the pipe then lands there. */
static void test_low_fds_child(void)
{
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	test_assert_run("ls /proc/$$/fd; readlink /proc/$$/fd/0; echo err >&2",
			0, "0\n1\n2\n/dev/null\nerr\n");
}

static void test_low_fds(void)
{
	if (g_test_subprocess()) {
		test_low_fds_child();
		return;
	}
	g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC,
			       G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
}

static int test_count_fds(void)
{
	GDir *dir = g_dir_open("/proc/self/fd", 0, NULL);
	int n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir))
		n++;
	g_dir_close(dir);
	return n;
}

/* Runs of every fate leave no fd and no process behind in the daemon. */
static void test_no_fd_leak(void)
{
	static const char *const lines[] = {
		"echo ok", "exit 3", "kill -9 $$", "sleep 100 & echo bg",
	};
	struct wq_command *cmd = test_cmd_new(NULL);
	int before = test_count_fds();
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(lines); i++) {
		cmd->cmdline = lines[i];
		g_assert_cmpint(wq_command_run(cmd), ==, 0);
	}
	kill(-cmd->pid, SIGKILL);	/* the background sleep */
	cmd->cwd = "/nonexistent-wqfs";
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	cmd->cwd = NULL;
	cmd->cmdline = "sleep 100";
	wq_command_kill(cmd);
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(test_count_fds(), ==, before);
	/* Every child was reaped: nothing is left to wait for. */
	g_assert_cmpint(waitpid(-1, NULL, WNOHANG), ==, -1);
	g_assert_cmpint(errno, ==, ECHILD);
	test_cmd_free(cmd);
}

/* Root is needed (the tests run as root); never a silent skip. */
static bool test_need_root(void)
{
	if (wq_command_can_switch_user())
		return true;
	g_test_message("this test needs root: run the tests as root");
	g_test_fail();
	return false;
}

/* A child that cannot take the identity does not run: -errno. */
static void test_switch_user_fails(void)
{
	enum { TOO_MANY = 65537 };	/* past the kernel's NGROUPS_MAX */
	gid_t *groups = g_new0(gid_t, TOO_MANY);
	struct wq_cred cred = {
		.uid = NOBODY, .gid = NOBODY,
		.groups = groups, .ngroups = TOO_MANY,
	};
	struct wq_command *cmd = test_cmd_new("echo should not run");
	char *out;

	if (!test_need_root())
		goto out;
	cmd->cred = &cred;
	g_assert_cmpint(wq_command_run(cmd), ==, -EINVAL);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "wqfs: setgroups: Invalid argument\n");
	g_free(out);
out:
	test_cmd_free(cmd);
	g_free(groups);
}

/* A daemon ignoring SIGCHLD loses the status: an error, not exit 0. */
static void test_sigchld_ignored(void)
{
	struct wq_command *cmd;
	int err;

	if (!g_test_subprocess()) {
		g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC,
				       G_TEST_SUBPROCESS_INHERIT_STDERR);
		g_test_trap_assert_passed();
		return;
	}
	signal(SIGCHLD, SIG_IGN);
	cmd = test_cmd_new("exit 3");
	/* Reaped before we saw it (ESRCH) or before we waited (ECHILD). */
	err = wq_command_run(cmd);
	g_assert_true(err == -ECHILD || err == -ESRCH);
	test_cmd_free(cmd);
}

#define TEST_THREADS	8
#define TEST_RUNS	25

/* Each thread runs its own commands; outputs never mix. */
static gpointer test_concurrent_main(gpointer data)
{
	int id = GPOINTER_TO_INT(data), i;
	char *cmdline = g_strdup_printf("echo %d; echo %d >&2; exit %d",
					id, id, id);
	char *want = g_strdup_printf("%d\n%d\n", id, id);
	struct wq_command *cmd = test_cmd_new(cmdline);
	char *out;

	for (i = 0; i < TEST_RUNS; i++) {
		g_assert_cmpint(wq_command_run(cmd), ==, 0);
		g_assert_cmpint(cmd->exit_code, ==, id);
		out = test_output(cmd, NULL);
		g_assert_cmpstr(out, ==, want);
		g_free(out);
	}
	test_cmd_free(cmd);
	g_free(want);
	g_free(cmdline);
	return NULL;
}

static void test_concurrent(void)
{
	GThread *threads[TEST_THREADS];
	int i;

	for (i = 0; i < TEST_THREADS; i++)
		threads[i] = g_thread_new("runner", test_concurrent_main,
					  GINT_TO_POINTER(i + 1));
	for (i = 0; i < TEST_THREADS; i++)
		g_thread_join(threads[i]);
}

/* The child's pid is visible while it runs, 0 before and after. */
struct test_pid_probe {
	struct wq_command *cmd;
	pid_t seen;
};

static gpointer test_pid_main(gpointer data)
{
	struct test_pid_probe *p = data;

	test_wait_output(p->cmd, "ready");
	p->seen = wq_command_pid(p->cmd);
	wq_command_kill(p->cmd);
	return NULL;
}

static void test_pid(void)
{
	struct wq_command *cmd = test_cmd_new("echo ready; sleep 100");
	struct test_pid_probe p = { .cmd = cmd };
	GThread *thread;

	g_assert_cmpint(wq_command_pid(cmd), ==, 0);
	thread = g_thread_new("pid", test_pid_main, &p);
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_thread_join(thread);
	g_assert_cmpint(p.seen, >, 0);
	g_assert_cmpint(p.seen, ==, cmd->pid);
	g_assert_cmpint(wq_command_pid(cmd), ==, 0);
	test_cmd_free(cmd);
}

/* ---- session ---------------------------------------------------------- */

/*
 * The work leads a session and a process group of its own and has no
 * controlling terminal, whatever the daemon has.
 */
static void test_session_check(void)
{
	struct wq_command *cmd = test_cmd_new(
		"set -- $(cat /proc/$$/stat); echo \"$$ $5 $6 $7\"; "
		"if (exec 3</dev/tty) 2>/dev/null; then echo tty; "
		"else echo no tty; fi");
	int pid = 0, pgrp = 0, sid = 0, tty = -1, n = 0;
	char *out;

	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpint(sscanf(out, "%d %d %d %d\n%n", &pid, &pgrp, &sid,
			       &tty, &n), ==, 4);
	g_assert_cmpint(pid, ==, cmd->pid);
	g_assert_cmpint(pgrp, ==, pid);
	g_assert_cmpint(sid, ==, pid);
	g_assert_cmpint(tty, ==, 0);
	g_assert_cmpstr(out + n, ==, "no tty\n");
	g_free(out);
	test_cmd_free(cmd);
}

/* In a child that has a terminal: the work must not get it (TIOCSTI). */
static void test_session_child(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave, tty;

	g_assert_cmpint(master, >=, 0);
	g_assert_cmpint(grantpt(master), ==, 0);
	g_assert_cmpint(unlockpt(master), ==, 0);
	g_assert_cmpint(setsid(), >, 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	g_assert_cmpint(slave, >=, 0);
	g_assert_cmpint(ioctl(slave, TIOCSCTTY, 0), ==, 0);
	/* The "daemon" has a controlling terminal now. */
	tty = open("/dev/tty", O_RDWR);
	g_assert_cmpint(tty, >=, 0);
	close(tty);
	test_session_check();
	/* Closing the master hangs the terminal up: SIGHUP for us. */
	signal(SIGHUP, SIG_IGN);
	close(slave);
	close(master);
}

static void test_session(void)
{
	if (g_test_subprocess()) {
		test_session_child();
		return;
	}
	test_session_check();
	g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC,
			       G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
}

/* ---- resource limits ---------------------------------------------------- */

#define TEST_NPROC	4321

static char *test_limit_str(rlim_t v)
{
	return v == RLIM_INFINITY ? g_strdup("unlimited") :
				    g_strdup_printf("%llu", (unsigned long long)v);
}

/* Run as cred: its nofile soft and hard and nproc soft must be want's. */
static void test_assert_limits(const struct wq_cred *cred,
			       const struct rlimit *want)
{
	struct wq_command *cmd = test_cmd_new(
		"ulimit -n; ulimit -Hn; "
		"awk '/^Max processes/ { print $3 }' /proc/$$/limits");
	char *soft = test_limit_str(want[RLIMIT_NOFILE].rlim_cur);
	char *hard = test_limit_str(want[RLIMIT_NOFILE].rlim_max);
	char *nproc = test_limit_str(want[RLIMIT_NPROC].rlim_cur);
	char *expect = g_strdup_printf("%s\n%s\n%s\n", soft, hard, nproc);
	char *out;

	cmd->cred = cred;
	cmd->cwd = "/";
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, expect);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	g_free(out);
	g_free(expect);
	g_free(nproc);
	g_free(hard);
	g_free(soft);
	test_cmd_free(cmd);
}

static rlim_t test_nr_open(void)
{
	char *text = NULL;
	rlim_t n;

	g_assert_true(g_file_get_contents("/proc/sys/fs/nr_open", &text,
					  NULL, NULL));
	n = (rlim_t)g_ascii_strtoull(text, NULL, 10);
	g_free(text);
	return n;
}

/* Whether we may raise hard limits (root in a container may not). */
static bool test_has_sys_resource(void)
{
	char *text = NULL, *line;
	guint64 caps = 0;

	g_assert_true(g_file_get_contents("/proc/self/status", &text, NULL,
					  NULL));
	line = strstr(text, "\nCapEff:\t");
	g_assert_nonnull(line);
	caps = g_ascii_strtoull(line + strlen("\nCapEff:\t"), NULL, 16);
	g_free(text);
	return caps & (1ull << CAP_SYS_RESOURCE);
}

static void test_limits(void)
{
	struct rlimit own[RLIM_NLIMITS], rl[RLIM_NLIMITS], want[RLIM_NLIMITS];
	struct wq_cred cred = { .uid = geteuid(), .gid = getegid() };
	int res;

	/* No rlimits: the daemon's. */
	for (res = 0; res < RLIM_NLIMITS; res++)
		g_assert_cmpint(getrlimit(res, &own[res]), ==, 0);
	test_assert_limits(&cred, own);

	/* Given ones apply, even with the identity unchanged. */
	memcpy(rl, own, sizeof(rl));
	rl[RLIMIT_NOFILE] = (struct rlimit){ 50, 60 };
	if (rl[RLIMIT_NPROC].rlim_max >= TEST_NPROC)
		rl[RLIMIT_NPROC].rlim_cur = TEST_NPROC;
	cred.rlimits = rl;
	test_assert_limits(&cred, rl);

	if (!test_need_root())
		return;
	/* As another user: set before the identity change, so a root daemon
	 * may raise a hard limit above its own, if it has CAP_SYS_RESOURCE. */
	rl[RLIMIT_NOFILE] = (struct rlimit){ 50, test_nr_open() };
	rl[RLIMIT_NPROC] = (struct rlimit){ TEST_NPROC, RLIM_INFINITY };
	cred = (struct wq_cred){ .uid = NOBODY, .gid = NOBODY, .rlimits = rl };
	memcpy(want, rl, sizeof(want));
	if (!test_has_sys_resource()) {
		want[RLIMIT_NOFILE].rlim_max = own[RLIMIT_NOFILE].rlim_max;
		want[RLIMIT_NPROC].rlim_max = own[RLIMIT_NPROC].rlim_max;
	}
	g_assert_cmpuint(own[RLIMIT_NOFILE].rlim_max, <, test_nr_open());
	test_assert_limits(&cred, want);

	/* Past fs.nr_open nobody may go: cut to the daemon's hard limit. */
	rl[RLIMIT_NOFILE] = (struct rlimit){ 50, test_nr_open() + 1 };
	want[RLIMIT_NOFILE] = (struct rlimit){ 50, own[RLIMIT_NOFILE].rlim_max };
	test_assert_limits(&cred, want);
}

/* A limit the child cannot set: the command does not run. */
static void test_limits_fail(void)
{
	struct rlimit rl[RLIM_NLIMITS];
	struct wq_cred cred = {
		.uid = geteuid(), .gid = getegid(), .rlimits = rl,
	};
	struct wq_command *cmd = test_cmd_new("echo should not run");
	char *out;

	g_assert_cmpint(wq_command_read_limits(getpid(), rl), ==, 0);
	rl[RLIMIT_CORE] = (struct rlimit){ 2, 1 };	/* soft above hard */
	cmd->cred = &cred;
	g_assert_cmpint(wq_command_run(cmd), ==, -EINVAL);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "wqfs: setrlimit: Invalid argument\n");
	g_assert_cmpint(wq_command_pid(cmd), ==, 0);
	g_free(out);
	test_cmd_free(cmd);
}

static void test_assert_same_limits(const struct rlimit *a,
				    const struct rlimit *b)
{
	g_assert_cmpuint(a->rlim_cur, ==, b->rlim_cur);
	g_assert_cmpuint(a->rlim_max, ==, b->rlim_max);
}

static void test_read_limits(void)
{
	static const int some[] = {
		RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_STACK, RLIMIT_CORE,
		RLIMIT_CPU, RLIMIT_AS,
	};
	struct rlimit rl[RLIM_NLIMITS], want;
	int sync[2], status;
	size_t i;
	pid_t pid;
	char c;

	g_assert_cmpint(wq_command_read_limits(getpid(), rl), ==, 0);
	for (i = 0; i < G_N_ELEMENTS(some); i++) {
		g_assert_cmpint(getrlimit(some[i], &want), ==, 0);
		test_assert_same_limits(&rl[some[i]], &want);
	}

	/* Another process's, here a child that lowered its nofile. */
	g_assert_cmpint(pipe(sync), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		want = (struct rlimit){ 33, 44 };
		if (setrlimit(RLIMIT_NOFILE, &want))
			_exit(1);
		(void)!write(sync[1], "x", 1);
		pause();			/* until the SIGKILL */
		_exit(0);
	}
	close(sync[1]);
	g_assert_cmpint(read(sync[0], &c, 1), ==, 1);
	close(sync[0]);
	g_assert_cmpint(wq_command_read_limits(pid, rl), ==, 0);
	want = (struct rlimit){ 33, 44 };
	test_assert_same_limits(&rl[RLIMIT_NOFILE], &want);
	kill(pid, SIGKILL);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);

	/* A process that is gone. */
	g_assert_cmpint(wq_command_read_limits(pid, rl), ==, -ESRCH);
}

/* ---- groups of now --------------------------------------------------- */

static int test_gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * What a work of cred (current_groups) must see: "uid\ngid\nGroups:\t...",
 * the last as /proc/PID/status shows the groups (sorted).
 */
static char *test_current_ids(const struct wq_cred *cred)
{
	struct passwd *pw = getpwuid(cred->uid);
	GString *s = g_string_new(NULL);
	gid_t groups[256], gid;
	int n = G_N_ELEMENTS(groups), i;

	g_assert_nonnull(pw);
	g_assert_cmpint(getgrouplist(pw->pw_name, pw->pw_gid, groups, &n),
			>=, 0);
	qsort(groups, (size_t)n, sizeof(*groups), test_gid_cmp);
	gid = pw->pw_gid;
	for (i = 0; i < n; i++)
		if (groups[i] == cred->gid)
			gid = cred->gid;
	g_string_append_printf(s, "%u\n%u\nGroups:\t", (unsigned)cred->uid,
			       (unsigned)gid);
	for (i = 0; i < n; i++)
		g_string_append_printf(s, "%u ", (unsigned)groups[i]);
	g_string_append_c(s, '\n');
	return g_string_free(s, FALSE);
}

static void test_assert_current(const struct wq_cred *cred)
{
	struct wq_command *cmd = test_cmd_new(
		"id -u; id -g; grep '^Groups:' /proc/$$/status");
	char *want = test_current_ids(cred);
	char *out;

	cmd->cred = cred;
	cmd->cwd = "/";
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, want);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	g_free(out);
	g_free(want);
	test_cmd_free(cmd);
}

/* Groups from the user database at run time, not the stale ones given. */
static void test_current_groups(void)
{
	static const gid_t stale[] = { 4242, NOBODY };
	struct wq_cred cred = {
		.groups = stale, .ngroups = G_N_ELEMENTS(stale),
		.current_groups = true,
	};

	if (!test_need_root())
		return;
	/* root, with a gid it is not in (a group left): root's primary. */
	cred.uid = 0;
	cred.gid = NOBODY;
	test_assert_current(&cred);
	/* nobody: its primary gid kept, 4242 gone. */
	cred.uid = NOBODY;
	cred.gid = NOBODY;
	test_assert_current(&cred);
}

#define TEST_NO_USER	4000123

/* A user deleted since the submit: the work does not run. */
static void test_current_groups_no_user(void)
{
	struct wq_cred cred = { .uid = TEST_NO_USER, .gid = TEST_NO_USER };
	char *dir = g_dir_make_tmp("wqfs-cmd-XXXXXX", NULL);
	char *mark = g_build_filename(dir, "ran", NULL);
	char *cmdline = g_strdup_printf("touch %s", mark);
	struct wq_command *cmd = test_cmd_new(cmdline);
	char *out;

	if (!test_need_root())
		goto out;
	g_assert_null(getpwuid(TEST_NO_USER));
	g_assert_cmpint(chmod(dir, 0777), ==, 0);
	cmd->cwd = "/";
	cmd->cred = &cred;

	/* Without current_groups it runs, as the bare uid. */
	g_assert_cmpint(wq_command_run(cmd), ==, 0);
	g_assert_cmpint(cmd->exit_code, ==, 0);
	g_assert_cmpint(unlink(mark), ==, 0);

	cred.current_groups = true;
	cmd->pid = 0;
	g_assert_cmpint(wq_command_run(cmd), ==, -ENOENT);
	out = test_output(cmd, NULL);
	g_assert_cmpstr(out, ==, "wqfs: user 4000123 no longer exists; "
			"the work does not run\n");
	g_free(out);
	g_assert_cmpint(cmd->pid, ==, 0);
	g_assert_false(g_file_test(mark, G_FILE_TEST_EXISTS));
out:
	test_cmd_free(cmd);
	g_free(cmdline);
	g_free(mark);
	g_assert_cmpint(rmdir(dir), ==, 0);
	g_free(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/engine/command/exit-code", test_exit_code);
	g_test_add_func("/engine/command/signal-exit", test_signal_exit);
	g_test_add_func("/engine/command/output-captured", test_output_captured);
	g_test_add_func("/engine/command/output-ring", test_output_ring);
	g_test_add_func("/engine/command/output-bounded", test_output_bounded);
	g_test_add_func("/engine/command/env", test_env);
	g_test_add_func("/engine/command/cwd", test_cwd);
	g_test_add_func("/engine/command/bad-cwd", test_bad_cwd);
	g_test_add_func("/engine/command/kill", test_kill);
	g_test_add_func("/engine/command/kill-before-start",
			test_kill_before_start);
	g_test_add_func("/engine/command/kill-escalates", test_kill_escalates);
	g_test_add_func("/engine/command/kill-process-group",
			test_kill_process_group);
	g_test_add_func("/engine/command/background-child",
			test_background_child);
	g_test_add_func("/engine/command/closes-stdout", test_closes_stdout);
	g_test_add_func("/engine/command/cpu-time", test_cpu_time);
	g_test_add_func("/engine/command/switch-user", test_switch_user);
	g_test_add_func("/engine/command/switch-user-eperm",
			test_switch_user_eperm);
	g_test_add_func("/engine/command/no-sigchld-theft",
			test_no_sigchld_theft);
	g_test_add_func("/engine/command/signals-default",
			test_signals_default);
	g_test_add_func("/engine/command/fds", test_fds);
	g_test_add_func("/engine/command/low-fds", test_low_fds);
	g_test_add_func("/engine/command/no-fd-leak", test_no_fd_leak);
	g_test_add_func("/engine/command/switch-user-fails",
			test_switch_user_fails);
	g_test_add_func("/engine/command/concurrent", test_concurrent);
	g_test_add_func("/engine/command/sigchld-ignored",
			test_sigchld_ignored);
	g_test_add_func("/engine/command/pid", test_pid);
	g_test_add_func("/engine/command/session", test_session);
	g_test_add_func("/engine/command/limits", test_limits);
	g_test_add_func("/engine/command/limits-fail", test_limits_fail);
	g_test_add_func("/engine/command/read-limits", test_read_limits);
	g_test_add_func("/engine/command/current-groups", test_current_groups);
	g_test_add_func("/engine/command/current-groups-no-user",
			test_current_groups_no_user);
	return g_test_run();
}
