#include "schedule.h"

#include <math.h>

float ww_lr_at(const ww_lr_schedule *s, int step)
{
    const double pi = 3.14159265358979323846;
    int warmup = s->warmup > 0 ? s->warmup : 0;
    if (step < 1)
        step = 1;
    if (step <= warmup)
        return (float)((double)s->lr * step / warmup);
    if (step >= s->steps)
        return s->min_lr;
    int span = s->steps - warmup > 1 ? s->steps - warmup : 1;
    double t = (double)(step - warmup) / span;
    return (float)(s->min_lr + 0.5 * ((double)s->lr - s->min_lr) * (1.0 + cos(pi * t)));
}
