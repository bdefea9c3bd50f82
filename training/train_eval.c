/* winwin-train eval: a model's full-resolution metrics on a dataset next to the trivial
 * baseline's (evaluate.h), as the model cards report them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "evaluate.h"
#include "train_run.h"

static const char eval_usage[] =
    "usage: winwin-train eval --model FILE [--data SPEC] [--size WxH] [--samples N]\n"
    "                         [--seed N] [--device D] [--json FILE]\n"
    "  Runs the model once per image at full resolution and prints its metrics and the\n"
    "  trivial baseline's: zero flow; the images' mean depth everywhere; their most\n"
    "  frequent class everywhere.\n"
    "  --data SPEC   dataset (default synthetic:16, held out from training by --seed)\n"
    "  --size WxH    size of synthetic images, any (default 1280x720); file datasets keep\n"
    "                each file's own size unless given\n"
    "  --samples N   at most N images (default all)\n"
    "  --seed N      dataset seed (default 7357: no default training run uses it)\n"
    "  --device D    auto|cpu|vulkan|vulkan:N|vulkan:NAME (default auto)\n"
    "  --json FILE   also write the metrics as one JSON object\n";

static const char program[] = "winwin-train eval";

int ww_train_eval_main(int argc, char **argv)
{
    const char *model = NULL, *data = "synthetic:16", *device = "auto", *json = NULL;
    int width = 1280, height = 720, size_set = 0;
    long long samples = 0, seed = 7357;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(eval_usage, stdout);
            return 0;
        } else if (!v) {
            r = ww_cli_bad(program, a, NULL, "unknown option or missing value");
        } else if (!strcmp(a, "--model")) {
            model = v;
        } else if (!strcmp(a, "--data")) {
            data = v;
        } else if (!strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "--json")) {
            json = v;
        } else if (!strcmp(a, "--samples")) {
            r = ww_cli_integer(program, a, v, 0, LLONG_MAX, &samples);
        } else if (!strcmp(a, "--seed")) {
            r = ww_cli_integer(program, a, v, 0, LLONG_MAX, &seed);
        } else if (!strcmp(a, "--size")) {
            if (sscanf(v, "%dx%d", &width, &height) != 2 || width < 16 || height < 16 ||
                width > 16384 || height > 16384)
                r = ww_cli_bad(program, a, v, "expected WxH, 16..16384 pixels each");
            size_set = 1;
        } else {
            r = ww_cli_bad(program, a, NULL, "unknown option");
        }
        if (r)
            return r;
        i++;
    }
    if (!model) {
        fputs(eval_usage, stderr);
        return 2;
    }
    char err[1024];
    ww_backend *be;
    ww_backend_options bo = {.device = device};
    if (ww_backend_create(&bo, &be, err, sizeof err) != WW_OK) {
        fprintf(stderr, "winwin-train eval: --device %s: %s\n", device, err);
        return 1;
    }
    ww_model *m = NULL;
    ww_dataset *d = NULL;
    int status = 1;
    if (ww_model_load(be, model, &m) != WW_OK) {
        fprintf(stderr, "winwin-train eval: %s\n", ww_backend_error(be));
        goto done;
    }
    const ww_model_config *c = ww_model_config_of(m);
    int file_data = !ww_dataset_spec_generated(data);
    if (ww_dataset_open(data, c->task, file_data && !size_set ? 0 : width,
                        file_data && !size_set ? 0 : height, c->semseg ? c->out_channels : 0,
                        (uint64_t)seed, &d, err, sizeof err) != WW_OK) {
        fprintf(stderr, "winwin-train eval: %s\n", err);
        goto done;
    }
    ww_eval e;
    if (ww_evaluate(be, m, d, samples, (uint64_t)seed, &e, err, sizeof err) != WW_OK) {
        fprintf(stderr, "winwin-train eval: %s\n", err);
        goto done;
    }
    char text[1024], members[1024];
    ww_eval_format(&e, text, sizeof text);
    ww_eval_json(&e, members, sizeof members);
    printf("%s: %lld %s images of %s: %s\n", model, (long long)e.images, ww_task_name(c->task),
           data, text);
    status = 0;
    if (json) {
        FILE *f = fopen(json, "w");
        int ok = f && fprintf(f, "{\"model\": \"%s\", \"data\": \"%s\", \"images\": %lld, %s}\n",
                              model, data, (long long)e.images, members) >= 0;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok) {
            fprintf(stderr, "winwin-train eval: %s: %s\n", json, strerror(errno));
            status = 1;
        }
    }
    ww_eval_free(&e);
done:
    ww_dataset_close(d);
    ww_model_destroy(m);
    ww_backend_destroy(be);
    return status;
}
