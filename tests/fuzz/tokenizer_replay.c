/* Replays a tokenizer fuzz target's corpus without libFuzzer, for ctest:
 *   tokenizer_replay [--mutate MODEL COUNT] PATH...
 * PATH is a corpus file or directory. --mutate also feeds COUNT truncated
 * and COUNT byte-flipped copies of MODEL (made here, deterministically). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (!p)
                break;
            buf = p;
        }
        size_t got = fread(buf + *n, 1, cap - *n, f);
        *n += got;
        if (!got)
            break;
    }
    fclose(f);
    return buf;
}

static int run_file(const char *path)
{
    size_t n;
    uint8_t *d = read_all(path, &n);
    if (!d) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput(d, n);
    free(d);
    return 1;
}

int main(int argc, char **argv)
{
    int count = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mutate") && i + 2 < argc) {
            size_t n;
            uint8_t *d = read_all(argv[i + 1], &n);
            int k = atoi(argv[i + 2]);
            i += 2;
            if (!d || !n) {
                fprintf(stderr, "cannot read %s\n", argv[i - 1]);
                return 1;
            }
            uint8_t *copy = malloc(n);
            uint32_t seed = 2024;
            for (int m = 0; m < k; m++) {
                seed = seed * 1664525u + 1013904223u;
                LLVMFuzzerTestOneInput(d, (size_t)(seed >> 4) % n);   /* truncated */
                memcpy(copy, d, n);
                for (int f = 0; f < 1 + m % 8; f++) {
                    seed = seed * 1664525u + 1013904223u;
                    copy[(seed >> 4) % n] ^= (uint8_t)(seed >> 24 | 1);
                }
                LLVMFuzzerTestOneInput(copy, n);                      /* flipped */
                count += 2;
            }
            free(copy);
            free(d);
            continue;
        }
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "cannot stat %s\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) < 0)
                return 1;
            count++;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (run_file(path) < 0)
                return 1;
            count++;
        }
        if (dir)
            closedir(dir);
    }
    printf("%d inputs replayed\n", count);
    return 0;
}
