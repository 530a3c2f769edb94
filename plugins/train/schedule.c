/* The learning-rate schedule: linear warmup from 0, then cosine decay to 0
 * over the remaining steps (Hugging Face's get_cosine_schedule_with_warmup,
 * the schedule the paper's training script uses). */
#include "train.h"

#include <math.h>

double trn_lr_at(double base_lr, int64_t s, int64_t total, int64_t warmup)
{
    if (s < warmup) return base_lr * (double)s / (double)(warmup > 1 ? warmup : 1);
    double span = (double)(total - warmup > 1 ? total - warmup : 1);
    double progress = (double)(s - warmup) / span;
    double f = 0.5 * (1.0 + cos(M_PI * progress));
    return base_lr * (f > 0.0 ? f : 0.0);
}

int64_t trn_warmup_steps(int64_t total, double ratio)
{
    return (int64_t)ceil((double)total * ratio);
}
