/* The gpio step's helper in the guest (tests/vm/gpio.sh), built static on the host.
 *
 *   gpiotool info CHIP LINE
 *       prints how LINE is requested, from the kernel's line info (GPIO v2 uAPI):
 *       consumer, direction, active-low, edges, bias.
 *   gpiotool pulse PULL_FILE COUNT WIDTH_MS GAP_MS
 *       drives a gpio-sim line from outside, as an acceptor's open-collector output:
 *       COUNT pulses of WIDTH_MS ("pull-down" written to PULL_FILE), GAP_MS apart
 *       ("pull-up"), timed on CLOCK_MONOTONIC; prints the widths it achieved, since
 *       a loaded TCG guest can stretch them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int info(const char *chip, unsigned line) {
    struct gpio_v2_line_info li;
    int fd = open(chip, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", chip, strerror(errno));
        return 1;
    }
    memset(&li, 0, sizeof li);
    li.offset = line;
    if (ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, &li) < 0) {
        fprintf(stderr, "line info %u: %s\n", line, strerror(errno));
        return 1;
    }
    unsigned long long f = li.flags;
    printf("line=%u consumer=%s used=%d dir=%s active_low=%d edge=%s bias=%s drive=%s\n", line,
           li.consumer[0] ? li.consumer : "-", !!(f & GPIO_V2_LINE_FLAG_USED),
           f & GPIO_V2_LINE_FLAG_OUTPUT ? "out" : "in", !!(f & GPIO_V2_LINE_FLAG_ACTIVE_LOW),
           (f & GPIO_V2_LINE_FLAG_EDGE_RISING) && (f & GPIO_V2_LINE_FLAG_EDGE_FALLING) ? "both"
           : f & GPIO_V2_LINE_FLAG_EDGE_RISING  ? "rising"
           : f & GPIO_V2_LINE_FLAG_EDGE_FALLING ? "falling" : "none",
           f & GPIO_V2_LINE_FLAG_BIAS_PULL_UP     ? "pull-up"
           : f & GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN ? "pull-down"
           : f & GPIO_V2_LINE_FLAG_BIAS_DISABLED  ? "disabled" : "as-is",
           f & GPIO_V2_LINE_FLAG_OPEN_DRAIN    ? "open-drain"
           : f & GPIO_V2_LINE_FLAG_OPEN_SOURCE ? "open-source" : "push-pull");
    return 0;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void sleep_until(double ms) {
    struct timespec t = {(time_t)(ms / 1e3), (long)((ms - (time_t)(ms / 1e3) * 1e3) * 1e6)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
    }
}

static int put(const char *path, const char *word) {
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, word, strlen(word)) < 0) {
        fprintf(stderr, "write %s to %s: %s\n", word, path, strerror(errno));
        if (fd >= 0) close(fd);
        return 1;
    }
    close(fd);
    return 0;
}

static int pulse(const char *pull, int count, double width, double gap) {
    double lo = 1e9, hi = 0, t = now_ms();
    for (int i = 0; i < count; i++) {
        double a = now_ms();
        if (put(pull, "pull-down")) return 1;
        sleep_until(t + width);
        if (put(pull, "pull-up")) return 1;
        double w = now_ms() - a;
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
        t += width + gap;
        sleep_until(t);
    }
    printf("pulses=%d width_ms=%.0f achieved_ms=%.1f..%.1f\n", count, width, lo, hi);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "info")) return info(argv[2], (unsigned)atoi(argv[3]));
    if (argc == 6 && !strcmp(argv[1], "pulse"))
        return pulse(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]));
    fprintf(stderr, "usage: gpiotool info CHIP LINE | gpiotool pulse PULL_FILE COUNT WIDTH_MS GAP_MS\n");
    return 2;
}
