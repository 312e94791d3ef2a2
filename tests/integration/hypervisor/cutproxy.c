/*
 * cutproxy.c - see cutproxy.h. One thread polls the listening socket, every connection
 * pair and a command pipe; commands (cut, mend, quit) are acknowledged on a second pipe
 * so that cutproxy_cut() returns only once every connection is closed.
 */
#include "cutproxy.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXPAIRS 32

struct cutproxy {
    char path[108], target[108];
    int lfd;
    int cmd[2], ack[2];
    int pairs[MAXPAIRS][2];
    int npairs;
    int frozen;
    int hold;
    int held[MAXPAIRS];
    int nheld;
    pthread_t th;
};

static int
unix_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int
unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void
drop_pair(struct cutproxy *p, int i)
{
    close(p->pairs[i][0]);
    close(p->pairs[i][1]);
    p->pairs[i][0] = p->pairs[p->npairs - 1][0];
    p->pairs[i][1] = p->pairs[p->npairs - 1][1];
    p->npairs--;
}

static void
cut(struct cutproxy *p)
{
    while (p->npairs)
        drop_pair(p, 0);
    while (p->nheld)
        close(p->held[--p->nheld]);
    if (p->lfd >= 0)
        close(p->lfd);
    p->lfd = -1;
    unlink(p->path);
}

static void *
run(void *arg)
{
    struct cutproxy *p = arg;

    for (;;) {
        struct pollfd pf[2 + 2 * MAXPAIRS];
        int n = 0;
        char c;

        pf[n++] = (struct pollfd){.fd = p->cmd[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        for (int i = 0; i < p->npairs && !p->frozen; i++) {
            pf[n++] = (struct pollfd){.fd = p->pairs[i][0], .events = POLLIN};
            pf[n++] = (struct pollfd){.fd = p->pairs[i][1], .events = POLLIN};
        }
        if (poll(pf, (nfds_t)n, -1) < 0)
            continue;
        if (pf[0].revents) {
            if (read(p->cmd[0], &c, 1) != 1 || c == 'q') {
                cut(p);
                c = 'q';
                if (write(p->ack[1], &c, 1) < 0)
                    perror("cutproxy ack");
                return NULL;
            }
            if (c == 'c') {
                cut(p);
            } else if (c == 'f') {
                p->frozen = 1;
                if (p->lfd >= 0)
                    close(p->lfd);
                p->lfd = -1;
                unlink(p->path);
            } else if (c == 'h') {
                p->hold = 1;
            } else if (c == 'm') {
                if (p->frozen)
                    cut(p);
                while (p->nheld)
                    close(p->held[--p->nheld]);
                p->frozen = 0;
                p->hold = 0;
                if (p->lfd < 0)
                    p->lfd = unix_listen(p->path);
            }
            if (write(p->ack[1], &c, 1) < 0)
                perror("cutproxy ack");
            continue;
        }
        if (p->lfd >= 0 && (pf[1].revents & POLLIN)) {
            int a = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC), b;

            if (a >= 0 && p->hold) {
                if (p->nheld < MAXPAIRS)
                    p->held[p->nheld++] = a;
                else
                    close(a);
            } else if (a >= 0) {
                b = unix_connect(p->target);
                if (b < 0 || p->npairs == MAXPAIRS) {
                    close(a);
                    if (b >= 0)
                        close(b);
                } else {
                    p->pairs[p->npairs][0] = a;
                    p->pairs[p->npairs][1] = b;
                    p->npairs++;
                }
            }
            continue;
        }
        for (int i = 0, k = 2; i < p->npairs && !p->frozen; i++, k += 2) {
            for (int side = 0; side < 2; side++) {
                char buf[65536];
                ssize_t r;

                if (!pf[k + side].revents)
                    continue;
                r = read(p->pairs[i][side], buf, sizeof(buf));
                if (r <= 0 || write(p->pairs[i][!side], buf, (size_t)r) != r) {
                    drop_pair(p, i);
                    goto next; /* indexes moved: poll again */
                }
            }
        }
next:;
    }
}

struct cutproxy *
cutproxy_start(const char *path, const char *target)
{
    struct cutproxy *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    snprintf(p->path, sizeof(p->path), "%s", path);
    snprintf(p->target, sizeof(p->target), "%s", target);
    p->lfd = unix_listen(path);
    if (p->lfd < 0 || pipe2(p->cmd, O_CLOEXEC) < 0 || pipe2(p->ack, O_CLOEXEC) < 0 ||
        pthread_create(&p->th, NULL, run, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static int
command(struct cutproxy *p, char c)
{
    char a;

    if (write(p->cmd[1], &c, 1) != 1 || read(p->ack[0], &a, 1) != 1)
        return -1;
    return 0;
}

void
cutproxy_hold(struct cutproxy *p)
{
    command(p, 'h');
}

void
cutproxy_freeze(struct cutproxy *p)
{
    command(p, 'f');
}

void
cutproxy_cut(struct cutproxy *p)
{
    command(p, 'c');
}

int
cutproxy_mend(struct cutproxy *p)
{
    return command(p, 'm');
}

void
cutproxy_stop(struct cutproxy *p)
{
    if (!p)
        return;
    command(p, 'q');
    pthread_join(p->th, NULL);
    close(p->cmd[0]);
    close(p->cmd[1]);
    close(p->ack[0]);
    close(p->ack[1]);
    free(p);
}
