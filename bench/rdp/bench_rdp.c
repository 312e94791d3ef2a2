/*
 * bench_rdp.c - RDP backend benchmark: CPU, bytes and frames per changed megapixel.
 *
 * Starts Xvfb + freerdp-shadow-cli at 1280x800, opens the RDP backend through the test
 * harness tunnel (tests/integration/gateway_rdp/harness.c), and plays a browser that
 * echoes every "sync" at once while counting bytes and frames. For each phase it runs
 * x11_workload (scrolling text, a moving 640x400 window, photo-like frames at 5 fps,
 * idle), which reports the pixels it changed. Backend CPU = this process's CPU minus the
 * main (browser-playing) thread's, from /proc: the FreeRDP decode and our encoding.
 * guacd 1.6.0's figures from the issue are printed beside ours as ratios.
 * Fidelity: the instructions are also drawn on a model of the browser's canvas
 * (tests/integration/gateway_rdp/canvas.c), and once each phase has settled that picture
 * (including the lossless refresh of settled JPEG tiles, whose bytes and CPU count in the
 * phase) is compared with the X server's own screen (XGetImage of the root window): PSNR over
 * RGB and the share of pixels that are exactly right, so "fewer bytes" cannot come from
 * showing the wrong picture.
 *
 *   bench_rdp [SECONDS_PER_PHASE]      (x11_workload is looked up next to this binary)
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "canvas.h"
#include "common/mem.h"
#include "harness.h"
#include "rdp.h"
#include "rdp_lab.h"
#include "rdp_priv.h"

struct phase {
    const char *name;
    double guacd_ms_per_mp, guacd_mb_per_mp; /* 0: no reference */
};

static const struct phase phases[] = {
    {"scroll", 364, 1.75},
    {"window", 295, 1.74},
    {"photo", 112, 0.69},
    {"idle", 0, 0},
};

/* The gateway's share: this process but its main (browser-playing) thread, plus the
 * session's worker process when sessions run in processes (the default). */
static int worker_pid = -1, srv_pid = -1;

static double
backend_cpu_ms(void)
{
    char task[64], worker[64];
    double w = 0;

    snprintf(task, sizeof(task), "/proc/self/task/%d/stat", getpid());
    if (worker_pid > 0) {
        snprintf(worker, sizeof(worker), "/proc/%d/stat", worker_pid);
        w = 1000.0 * bench_stat_cpu_s(worker);
    }
    return 1000.0 * bench_stat_cpu_s("/proc/self/stat") - 1000.0 * bench_stat_cpu_s(task) + w;
}

/* What the browser would show: every drawing instruction is applied here. */
static struct h_canvas canvas;

/* Consume the backend's output for up to @ms, echoing syncs; counts frames. */
static void
pump(struct gw_tunnel *t, const struct gw_backend_ops *ops, int ms, unsigned long *frames)
{
    struct h_insn in;

    while (h_next(t, &in, ms) == 0) {
        if (h_canvas_apply(&canvas, &in) < 0) {
            fprintf(stderr, "bench: an image the browser could not decode\n");
            exit(1);
        }
        if (!strcmp(in.op, "sync")) {
            char echo[64];
            snprintf(echo, sizeof(echo), "4.sync,%zu.%s;", strlen(in.argv[0]), in.argv[0]);
            h_send(t, ops, echo, NULL, 0);
            (*frames)++;
        } else if (!strcmp(in.op, "error")) {
            fprintf(stderr, "bench: backend error: %s\n", in.argv[0]);
            exit(1);
        }
        h_insn_fini(&in);
        ms = 0;
    }
}

struct fidelity {
    double psnr_db; /* INFINITY when identical */
    double exact;   /* share of pixels with R, G and B all right */
};

/* BENCH_RDP_DUMP=DIR: write both pictures of each phase as PPM, for a person to look at. */
static void
dump_ppm(const char *phase, const char *which, const uint8_t *rgb, int w, int h)
{
    const char *dir = getenv("BENCH_RDP_DUMP");
    char path[PATH_MAX];
    FILE *f;

    if (!dir || !dir[0])
        return;
    snprintf(path, sizeof(path), "%s/%s-%s.ppm", dir, phase, which);
    f = fopen(path, "wb");
    if (!f)
        return;
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    fwrite(rgb, 3, (size_t)w * (size_t)h, f);
    fclose(f);
}

/* Compare the canvas model with the X server's screen. -1 if the screen cannot be read or
 * the sizes differ (a wrong size is a fidelity failure of its own: reported as such). */
static int
fidelity_measure(Display *dpy, const char *phase, struct fidelity *f)
{
    uint8_t *screen;
    Window root = DefaultRootWindow(dpy);
    XWindowAttributes wa;
    XImage *img;
    double se = 0;
    size_t exact = 0, n;

    XGetWindowAttributes(dpy, root, &wa);
    if (wa.width != canvas.w || wa.height != canvas.h)
        return -1;
    img = XGetImage(dpy, root, 0, 0, (unsigned)wa.width, (unsigned)wa.height, AllPlanes, ZPixmap);
    if (!img)
        return -1;
    screen = pt_xmalloc((size_t)wa.width * (size_t)wa.height * 3);
    for (int y = 0; y < wa.height; y++) {
        const uint8_t *c = canvas.rgb + (size_t)y * (size_t)canvas.w * 3;
        uint8_t *o = screen + (size_t)y * (size_t)wa.width * 3;
        for (int x = 0; x < wa.width; x++, c += 3, o += 3) {
            unsigned long px = XGetPixel(img, x, y);
            int r = (int)((px & img->red_mask) >> 16), g = (int)((px & img->green_mask) >> 8),
                b = (int)(px & img->blue_mask);
            int dr = r - c[0], dg = g - c[1], db = b - c[2];

            o[0] = (uint8_t)r;
            o[1] = (uint8_t)g;
            o[2] = (uint8_t)b;

            se += (double)(dr * dr + dg * dg + db * db);
            exact += dr == 0 && dg == 0 && db == 0;
        }
    }
    XDestroyImage(img);
    dump_ppm(phase, "screen", screen, wa.width, wa.height);
    dump_ppm(phase, "browser", canvas.rgb, canvas.w, canvas.h);
    free(screen);
    n = (size_t)wa.width * (size_t)wa.height;
    f->exact = (double)exact / (double)n;
    f->psnr_db = se == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 * 3.0 * (double)n / se);
    return 0;
}

/* pump() for all of @ms: what the backend sends in that time (pump() returns as soon as
 * the stream pauses). */
static void
pump_for(struct gw_tunnel *t, const struct gw_backend_ops *ops, int ms, unsigned long *frames)
{
    struct timespec ts;
    double end;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + ms / 1000.0;
    for (;;) {
        double now;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        if (now >= end)
            return;
        pump(t, ops, (int)((end - now) * 1000.0) + 1, frames);
    }
}

int
main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 6;
    char workload[PATH_MAX], *slash;
    struct lab_shadow lab;
    struct pt_err err;
    struct auth_ticket_claims c;
    const struct gw_backend_ops *ops = gw_rdp_backend();
    struct gw_tunnel *t;
    unsigned long frames = 0;

    snprintf(workload, sizeof(workload), "%s", argv[0]);
    slash = strrchr(workload, '/');
    snprintf(slash ? slash + 1 : workload,
             sizeof(workload) - (size_t)(slash ? slash + 1 - workload : 0), "x11_workload");
    Display *dpy;

    gw_rdp_configure(NULL); /* process per session, as in the gateway */
    h_canvas_init(&canvas);
    if (lab_shadow_start(&lab, 1280, 800, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    dpy = XOpenDisplay(lab.display_str);
    if (!dpy) {
        fprintf(stderr, "bench: cannot open X display %s\n", lab.display_str);
        return 1;
    }
    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = lab.port;
    t = h_tunnel_new();
    if (ops->open(t, &c, NULL, &err) < 0) {
        fprintf(stderr, "bench: open: %s\n", err.msg);
        return 1;
    }
    worker_pid = rdp_backend_worker_pid(t);
    srv_pid = lab_server_pid(lab.port);
    pump(t, ops, 3000, &frames); /* connect and first frame */

    printf("RDP backend benchmark: Xvfb + freerdp-shadow-cli 1280x800, %d s per phase\n", secs);
    printf("Fidelity after each phase settles: the browser's picture (a model of its canvas) "
           "against the X screen.\n");
    printf("%-7s %9s %9s %10s %10s %7s %9s | %12s %12s %9s %9s\n", "phase", "changedMP", "cpu_ms",
           "ms/MP", "MB/MP", "fps", "server_ms", "guacd ms/MP", "guacd MB/MP", "cpu ratio",
           "MB ratio");
    for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        int pfd[2], hold[2];
        char secs_s[16], line[256] = "";
        pid_t pid;
        struct gw_rdp_metrics m0, m1;
        double cpu0 = 0, cpu1, wall0 = 0, wall1, srv0 = 0, srv1;
        char srv_stat[64];
        size_t bytes0 = 0, bytes1;
        unsigned long frames0 = 0, frames_end;
        unsigned long long changed = 0;
        double seconds = secs;
        bool started = false;
        struct timespec ts;
        size_t linelen = 0;
        int st;

        snprintf(secs_s, sizeof(secs_s), "%d", secs);
        if (pipe(pfd) < 0 || pipe(hold) < 0)
            return 1;
        pid = fork();
        if (pid == 0) {
            dup2(pfd[1], 1);
            dup2(hold[0], 0); /* it keeps its picture up until we close this */
            close(pfd[0]);
            close(hold[1]);
            setenv("DISPLAY", lab.display_str, 1);
            execl(workload, "x11_workload", phases[i].name, secs_s, (char *)NULL);
            _exit(127);
        }
        close(pfd[1]);
        close(hold[0]);
        fcntl(pfd[0], F_SETFL, O_NONBLOCK);
        for (;;) {
            char buf[256];
            ssize_t n;

            pump(t, ops, 20, &frames);
            while ((n = read(pfd[0], buf, sizeof(buf))) > 0) {
                for (ssize_t k = 0; k < n && linelen < sizeof(line) - 1; k++)
                    line[linelen++] = buf[k];
                line[linelen] = '\0';
            }
            if (!started && strstr(line, "start")) {
                started = true;
                cpu0 = backend_cpu_ms();
                gw_rdp_metrics_get(&m0);
                snprintf(srv_stat, sizeof(srv_stat), "/proc/%d/stat", srv_pid);
                srv0 = 1000.0 * bench_stat_cpu_s(srv_stat);
                bytes0 = h_bytes(t);
                frames0 = frames;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                wall0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
            }
            if (n == 0 || (strstr(line, "changed_px") && strchr(strstr(line, "changed_px"), '\n')))
                break; /* the workload has drawn its last frame (or died) */
        }
        pump(t, ops, 700, &frames); /* the last frames of the phase */
        frames_end = frames;
        /* settle: lossy tiles come again losslessly RDP_LOSSLESS_MS after they stop
         * changing; those bytes and that CPU belong to the phase */
        pump_for(t, ops, RDP_LOSSLESS_MS + 1500, &frames);
        cpu1 = backend_cpu_ms();
        gw_rdp_metrics_get(&m1);
        snprintf(srv_stat, sizeof(srv_stat), "/proc/%d/stat", srv_pid);
        srv1 = 1000.0 * bench_stat_cpu_s(srv_stat);
        bytes1 = h_bytes(t);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        wall1 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        {
            char *cp = strstr(line, "changed_px ");
            if (cp)
                sscanf(cp, "changed_px %llu seconds %lf", &changed, &seconds);
        }
        {
            double mp = (double)changed / 1e6, cpu = cpu1 > cpu0 ? cpu1 - cpu0 : 0;
            double mb = (double)(bytes1 - bytes0) / 1e6;
            double fps = (double)(frames_end - frames0) / seconds;

            (void)wall0;
            (void)wall1;
            if (mp > 0) {
                printf("%-7s %9.1f %9.0f %10.1f %10.3f %7.1f %9.0f | %12.0f %12.2f %9.2f %9.2f\n",
                       phases[i].name, mp, cpu, cpu / mp, mb / mp, fps, srv1 - srv0,
                       phases[i].guacd_ms_per_mp, phases[i].guacd_mb_per_mp,
                       (cpu / mp) / phases[i].guacd_ms_per_mp,
                       (mb / mp) / phases[i].guacd_mb_per_mp);
            } else {
                printf("%-7s %9.1f %9.0f %10s %10s %7.1f %9.0f | idle: %.1f ms CPU/s, %.0f "
                       "bytes/s\n",
                       phases[i].name, mp, cpu, "-", "-", fps, srv1 - srv0, cpu / seconds,
                       (double)(bytes1 - bytes0) / seconds);
            }
            {
                double dmp = (double)(m1.changed_px - m0.changed_px) / 1e6;
                double enc = (double)(m1.encode_us - m0.encode_us) / 1e3;
                if (dmp > 0)
                    printf("        sent %.1f MP in %llu frames (%llu held): %.1f ms CPU, %.3f MB "
                           "per sent MP; encoding %.0f ms = %.0f%% of CPU\n",
                           dmp, m1.frames - m0.frames, m1.frames_held - m0.frames_held, cpu / dmp,
                           mb / dmp, enc, cpu > 0 ? 100.0 * enc / cpu : 0);
            }
            {
                struct fidelity fi;

                if (fidelity_measure(dpy, phases[i].name, &fi) < 0)
                    printf("        fidelity: the browser's picture is %dx%d, the screen is not "
                           "(or unreadable)\n",
                           canvas.w, canvas.h);
                else if (isinf(fi.psnr_db))
                    printf("        fidelity: identical to the screen (every pixel exact)\n");
                else
                    printf("        fidelity: PSNR %.1f dB, %.2f%% of pixels exact\n", fi.psnr_db,
                           100.0 * fi.exact);
            }
            fflush(stdout);
        }
        close(hold[1]);
        waitpid(pid, &st, 0);
        pump(t, ops, 300, &frames); /* the workload's window going away */
        close(pfd[0]);
    }
    ops->close(t);
    h_tunnel_free(t);
    XCloseDisplay(dpy);
    h_canvas_fini(&canvas);
    lab_shadow_stop(&lab);
    return 0;
}
