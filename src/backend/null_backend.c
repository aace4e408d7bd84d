/*
 * src/backend/null_backend.c -- a backend that keeps nothing
 * (vmvars/backend.h): load adds no variable, every commit succeeds.  For
 * stateless VMs and tests.
 */
#include <stdlib.h>

#include <vmvars/backend.h>

static int
null_load(struct vv_backend *b, struct vv_store *s, struct vv_error *err)
{
	return 0;
}

static int
null_commit(struct vv_backend *b, const struct vv_store *s, const struct vv_change *change,
	    struct vv_error *err)
{
	return 0;
}

static void
null_destroy(struct vv_backend *b)
{
	free(b);
}

static const struct vv_backend_ops null_ops = {
	.name = "null",
	.load = null_load,
	.commit = null_commit,
	.destroy = null_destroy,
};

struct vv_backend *
vv_null_backend_new(void)
{
	struct vv_backend *b = calloc(1, sizeof(*b));

	if (b != NULL)
		b->ops = &null_ops;
	return b;
}
