/* Replays a llama fuzz target over its corpus without libFuzzer (ctest):
 *   llama_replay [--mutate FILE COUNT] PATH...
 * PATH is a corpus file or directory. --mutate also feeds every truncation
 * of FILE at COUNT evenly spaced lengths and COUNT copies with one byte
 * changed (deterministic), which exercises the size and offset checks. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf ? fread(buf, 1, (size_t)(len > 0 ? len : 0), f) : 0;
    fclose(f);
    return buf;
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "llama_replay: cannot stat %s\n", path);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        int count = 0;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            int c = run_path(sub);
            if (c < 0) { closedir(d); return -1; }
            count += c;
        }
        if (d) closedir(d);
        return count;
    }
    size_t n;
    uint8_t *data = slurp(path, &n);
    if (!data) return -1;
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    return 1;
}

int main(int argc, char **argv)
{
    int count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mutate") == 0 && i + 2 < argc) {
            size_t n;
            uint8_t *d = slurp(argv[i + 1], &n);
            int k = atoi(argv[i + 2]);
            i += 2;
            if (!d || n == 0) { fprintf(stderr, "llama_replay: cannot read %s\n", argv[i - 1]); return 1; }
            uint8_t *copy = malloc(n);
            uint64_t x = 88172645463325252ull;
            for (int j = 0; j < k; j++) {
                LLVMFuzzerTestOneInput(d, n * (size_t)j / (size_t)k);   /* truncations */
                memcpy(copy, d, n);
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                /* mostly inside the header, where the structure is */
                size_t at = (size_t)(x % (n < 4096 ? n : 4096));
                copy[at] = (uint8_t)(x >> 32);
                LLVMFuzzerTestOneInput(copy, n);
                count += 2;
            }
            free(copy);
            free(d);
            continue;
        }
        int c = run_path(argv[i]);
        if (c < 0) return 1;
        count += c;
    }
    printf("replayed %d inputs\n", count);
    return count > 0 ? 0 : 1;
}
