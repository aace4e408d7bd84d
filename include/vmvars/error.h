/*
 * vmvars/error.h -- how the library tells a person what went wrong.
 *
 * Functions that can fail for reasons a person must act on (a corrupt
 * store file, a full disk) take a struct vv_error * and fill it with one
 * line that names the file, the offset or field, and the reason.  The guest
 * never sees this text; it gets an EFI status.
 */
#ifndef VMVARS_ERROR_H
#define VMVARS_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

struct vv_error {
	char msg[512];
};

/* printf-style; err may be NULL.  Always returns -1 so callers can write
 * `return vv_error_set(err, ...);`. */
int vv_error_set(struct vv_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to an existing message. */
void vv_error_prefix(struct vv_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_ERROR_H */
