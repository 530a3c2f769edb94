/* Says whether the CUDA backend can run here: prints "gpu" and exits 0, or
 * prints why not and exits 77 (plugin not built, no device). Scripts use it
 * to choose what to expect. */
#include <stdio.h>

#include "kcuda_testutil.h"

int main(void)
{
    kt_env e;
    int rc = kt_open(&e);
    if (rc == 0) puts("gpu");
    kt_close(&e);
    return rc;
}
