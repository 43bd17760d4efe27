/*
 * standalone_main.c - a main() for the fuzz targets without libFuzzer:
 * every file named on the command line, and every file of every directory
 * named there (in name order, not descending into subdirectories), goes
 * once through LLVMFuzzerTestOneInput, after LLVMFuzzerInitialize when the
 * target has one.  LLVM's StandaloneFuzzTargetMain.c is the model.
 *
 * So the seed corpus of each target is replayed by ctest (label
 * fuzz-smoke) in the ordinary gcc builds, under ASan+UBSan in the
 * sanitizer build, and a bug the committed seeds reach fails the test
 * suite without clang.  Each input gets a buffer of exactly its size, so
 * that ASan sees a read past its end.  A target reports a finding the way
 * it does under libFuzzer: it crashes or aborts.
 *
 * Exit status: 0 when at least one input ran and none crashed; 1 when an
 * argument cannot be read or no input was found (a smoke test that runs
 * nothing must not pass).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Weak: not every target has one. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Run the file at path through the target.  0, or -1 when it cannot be
 * read (said on stderr). */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    /* malloc(0) may return NULL: an empty input still gets a pointer. */
    uint8_t *data = malloc(size > 0 ? size : 1);
    if (data == NULL || fread(data, 1, size, f) != size) {
        fprintf(stderr, "%s: cannot read %zu bytes\n", path, size);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* Named before it runs, so that a crash's report says which input. */
    fprintf(stderr, "running %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

/* Run every regular file of dir, in name order; *ran counts them.  0, or
 * -1 when the directory or one of its files cannot be read. */
static int run_dir(const char *dir, size_t *ran)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (rc != 0) {
            /* an earlier file failed: only free the rest */
        } else if (snprintf(path, sizeof path, "%s/%s", dir,
                            names[i]->d_name) >= (int)sizeof path) {
            fprintf(stderr, "%s/%s: path too long\n", dir, names[i]->d_name);
            rc = -1;
        } else if (stat(path, &st) != 0) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            rc = -1;
        } else if (S_ISREG(st.st_mode)) {
            if (run_file(path) != 0)
                rc = -1;
            else
                (*ran)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t ran = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (run_dir(argv[i], &ran) != 0)
                return 1;
        } else {
            if (run_file(argv[i]) != 0)
                return 1;
            ran++;
        }
    }
    if (ran == 0) {
        fprintf(stderr, "%s: no input found in the arguments\n", argv[0]);
        return 1;
    }
    fprintf(stderr, "%s: %zu inputs ran, none crashed\n", argv[0], ran);
    return 0;
}
