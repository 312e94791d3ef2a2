/*
 * x11_workload.c - a deterministic X11 drawing workload for the RDP benchmark.
 *
 *   x11_workload PHASE SECONDS     (DISPLAY must point at the Xvfb behind the RDP server)
 *   PHASE: scroll  a full-screen "terminal" scrolling one 13-px text line 25 times/s
 *          window  a 640x400 window with text and a gradient moving 8 px 30 times/s
 *          photo   full-screen photo-like images (smooth colour fields + grain) at 5 fps
 *          idle    nothing
 * Prints "changed_px N" at exit: the pixels its drawing changed (each scroll step changes
 * the whole terminal; a window move changes the union of its old and new rectangles; a
 * photo frame the whole screen), the denominator of the benchmark's per-megapixel figures.
 * Then it keeps its last picture on the screen until its standard input closes, so the
 * benchmark can compare what the browser shows with what the screen shows.
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_until(double t)
{
    double d = t - now_s();

    if (d > 0) {
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static Window
make_window(Display *dpy, int x, int y, int w, int h, unsigned long bg)
{
    XSetWindowAttributes a;
    Window win;

    a.override_redirect = True;
    a.background_pixel = bg;
    win = XCreateWindow(dpy, DefaultRootWindow(dpy), x, y, (unsigned)w, (unsigned)h, 0,
                        CopyFromParent, InputOutput, CopyFromParent,
                        CWOverrideRedirect | CWBackPixel, &a);
    XMapRaised(dpy, win);
    XSync(dpy, False);
    return win;
}

static void
text_line(char *buf, int n, unsigned *seed)
{
    static const char words[][10] = {"gateway", "session", "desktop", "frame", "tile",
                                     "encode",  "pool",    "ticket",  "rdp",   "sync",
                                     "pixels",  "0x7f3a",  "ERROR",   "ok",    "12.5ms"};
    int len = 0;

    while (len < n - 12) {
        const char *w = words[rand_r(seed) % 15];
        len += snprintf(buf + len, (size_t)(n - len), "%s ", w);
    }
    buf[len] = '\0';
}

int
main(int argc, char **argv)
{
    Display *dpy;
    int scr, sw, sh;
    double secs, t0, next;
    unsigned long long changed = 0;
    unsigned seed = 12345;
    GC gc;

    if (argc != 3) {
        fprintf(stderr, "usage: %s scroll|window|photo|idle SECONDS\n", argv[0]);
        return 2;
    }
    secs = atof(argv[2]);
    dpy = XOpenDisplay(NULL);
    if (!dpy) {
        fprintf(stderr, "x11_workload: cannot open display\n");
        return 1;
    }
    scr = DefaultScreen(dpy);
    sw = DisplayWidth(dpy, scr);
    sh = DisplayHeight(dpy, scr);
    gc = XCreateGC(dpy, DefaultRootWindow(dpy), 0, NULL);
    t0 = now_s();
    next = t0;

    if (!strcmp(argv[1], "scroll")) {
        Window w = make_window(dpy, 0, 0, sw, sh, 0x101010);
        XFontStruct *f = XLoadQueryFont(dpy, "fixed");
        int lh = f ? f->ascent + f->descent : 13;
        char line[400];

        if (f)
            XSetFont(dpy, gc, f->fid);
        XSetForeground(dpy, gc, 0xD0D0D0);
        XSetBackground(dpy, gc, 0x101010);
        for (int y = lh; y < sh; y += lh) { /* fill the terminal first */
            text_line(line, sw / 6, &seed);
            XDrawImageString(dpy, w, gc, 2, y - 2, line, (int)strlen(line));
        }
        XSync(dpy, False);
        sleep(1);
        puts("start");
        fflush(stdout);
        t0 = next = now_s();
        while (now_s() - t0 < secs) {
            XCopyArea(dpy, w, w, gc, 0, lh, (unsigned)sw, (unsigned)(sh - lh), 0, 0);
            XClearArea(dpy, w, 0, sh - lh, (unsigned)sw, (unsigned)lh, False);
            text_line(line, sw / 6, &seed);
            XDrawImageString(dpy, w, gc, 2, sh - 4, line, (int)strlen(line));
            XSync(dpy, False);
            changed += (unsigned long long)sw * (unsigned long long)sh;
            next += 1.0 / 25;
            sleep_until(next);
        }
    } else if (!strcmp(argv[1], "window")) {
        int ww = 640, wh = 400, x = 0, y = 100, dx = 8, dy = 4;
        Window w = make_window(dpy, x, y, ww, wh, 0xF0F0F0);
        Pixmap pm =
            XCreatePixmap(dpy, w, (unsigned)ww, (unsigned)wh, (unsigned)DefaultDepth(dpy, scr));
        char line[200];

        for (int r = 0; r < wh; r++) { /* a title-bar gradient and text */
            XSetForeground(dpy, gc, r < 24 ? (0x2040A0 + (unsigned long)r * 0x000204) : 0xF8F8F8);
            XDrawLine(dpy, pm, gc, 0, r, ww, r);
        }
        XSetForeground(dpy, gc, 0x202020);
        for (int r = 40; r < wh; r += 14) {
            text_line(line, 100, &seed);
            XDrawString(dpy, pm, gc, 6, r, line, (int)strlen(line));
        }
        XSetWindowBackgroundPixmap(dpy, w, pm);
        XClearWindow(dpy, w);
        XSync(dpy, False);
        sleep(1);
        puts("start");
        fflush(stdout);
        t0 = next = now_s();
        while (now_s() - t0 < secs) {
            int nx = x + dx, ny = y + dy;
            int ux0, uy0, ux1, uy1, ox, oy;

            if (nx < 0 || nx + ww > sw)
                dx = -dx, nx = x + dx;
            if (ny < 0 || ny + wh > sh)
                dy = -dy, ny = y + dy;
            XMoveWindow(dpy, w, nx, ny);
            XSync(dpy, False);
            /* union of old and new rectangles = both minus the overlap */
            ux0 = x > nx ? x : nx;
            uy0 = y > ny ? y : ny;
            ux1 = (x < nx ? x : nx) + ww;
            uy1 = (y < ny ? y : ny) + wh;
            ox = ux1 - ux0 > 0 ? ux1 - ux0 : 0;
            oy = uy1 - uy0 > 0 ? uy1 - uy0 : 0;
            changed += 2ull * (unsigned long long)(ww * wh) - (unsigned long long)(ox * oy);
            x = nx;
            y = ny;
            next += 1.0 / 30;
            sleep_until(next);
        }
    } else if (!strcmp(argv[1], "photo")) {
        enum {
            NFRAMES = 8
        };
        Visual *vis = DefaultVisual(dpy, scr);
        Window w = make_window(dpy, 0, 0, sw, sh, 0);
        XImage *img[NFRAMES];
        int frame = 0;

        /* frames are made before the clock starts: the benchmark measures the gateway,
         * not this program's sin() */
        for (int f = 0; f < NFRAMES; f++) {
            uint32_t *px = malloc((size_t)sw * (size_t)sh * 4);
            double ph = f * 0.7;

            for (int yy = 0; yy < sh; yy++) {
                for (int xx = 0; xx < sw; xx++) {
                    double v1 = sin(xx * 0.011 + ph) + sin(yy * 0.017 - ph * 0.5);
                    double v2 = sin((xx + yy) * 0.007 + ph * 1.3);
                    int g = (int)(rand_r(&seed) % 24) - 12; /* film grain */
                    int r = (int)(128 + 60 * v1) + g, gg = (int)(128 + 90 * v2) + g,
                        b = (int)(128 + 50 * (v1 - v2)) + g;
                    r = r < 0 ? 0 : r > 255 ? 255 : r;
                    gg = gg < 0 ? 0 : gg > 255 ? 255 : gg;
                    b = b < 0 ? 0 : b > 255 ? 255 : b;
                    px[(size_t)yy * (size_t)sw + (size_t)xx] =
                        (uint32_t)r << 16 | (uint32_t)gg << 8 | (uint32_t)b;
                }
            }
            img[f] = XCreateImage(dpy, vis, (unsigned)DefaultDepth(dpy, scr), ZPixmap, 0,
                                  (char *)px, (unsigned)sw, (unsigned)sh, 32, 0);
        }
        XSync(dpy, False);
        sleep(1);
        puts("start");
        fflush(stdout);
        t0 = next = now_s();
        while (now_s() - t0 < secs) {
            XPutImage(dpy, w, gc, img[frame % NFRAMES], 0, 0, 0, 0, (unsigned)sw, (unsigned)sh);
            XSync(dpy, False);
            changed += (unsigned long long)sw * (unsigned long long)sh;
            frame++;
            next += 1.0 / 5;
            sleep_until(next);
        }
        for (int f = 0; f < NFRAMES; f++)
            XDestroyImage(img[f]); /* frees the pixels */
    } else if (!strcmp(argv[1], "idle")) {
        puts("start");
        fflush(stdout);
        sleep_until(t0 + secs);
    } else {
        fprintf(stderr, "x11_workload: unknown phase %s\n", argv[1]);
        return 2;
    }
    printf("changed_px %llu seconds %.3f\n", changed, now_s() - t0);
    fflush(stdout);
    XSync(dpy, False);
    while (getchar() != EOF)
        ;
    XCloseDisplay(dpy);
    return 0;
}
