/* Feeds each file of a gsm8k fuzz corpus (files or directories given as
 * arguments) to the target's LLVMFuzzerTestOneInput, so ctest replays the
 * corpus with the normal compiler (and under ASan+UBSan in the sanitizer
 * pass) without libFuzzer. Also feeds every line of each file alone. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int feed_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    int inputs = 1;
    for (size_t a = 0; a < n;) {
        uint8_t *nl = memchr(buf + a, '\n', n - a);
        size_t e = nl ? (size_t)(nl - buf) : n;
        if (nl || a > 0) {
            LLVMFuzzerTestOneInput(buf + a, e - a);
            inputs++;
        }
        a = e + 1;
    }
    free(buf);
    return inputs;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "cannot stat %s\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            int k = feed_file(argv[i]);
            if (k < 0)
                return 1;
            total += k;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            int k = feed_file(path);
            if (k < 0) {
                closedir(d);
                return 1;
            }
            total += k;
        }
        if (d)
            closedir(d);
    }
    printf("replayed %ld inputs\n", total);
    return total > 0 ? 0 : 1;
}
