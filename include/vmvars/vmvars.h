/*
 * vmvars/vmvars.h -- everything libvmvars offers, in one include.
 *
 * Layers, each depending only on those above it:
 *   efi.h, error.h, ucs2.h   vocabulary
 *   store.h                  variables and the UEFI rules
 *   backend.h, json_v2.h     persistence and formats
 *   policy.h                 edk2 variable policy
 *   mm.h                     the edk2 MM-communicate protocol
 *   xenvar.h                 the varstored (Xen) and ExtVarStore (AWS) protocol
 *   uefi_vars_device.h       QEMU's uefi-vars register block
 *   extvarstore.h            the ExtVarStore / Xen port-0x100 doorbell
 *   xen_ioreq.h              Xen's ioreq-server side of that doorbell
 *   vmm_protocol.h, client.h the VMM socket of vmvarsd, and its client
 */
#ifndef VMVARS_VMVARS_H
#define VMVARS_VMVARS_H

#include <vmvars/efi.h>
#include <vmvars/error.h>
#include <vmvars/ucs2.h>
#include <vmvars/store.h>
#include <vmvars/backend.h>
#include <vmvars/json_v2.h>
#include <vmvars/policy.h>
#include <vmvars/mm.h>
#include <vmvars/xenvar.h>
#include <vmvars/uefi_vars_device.h>
#include <vmvars/extvarstore.h>
#include <vmvars/xen_ioreq.h>
#include <vmvars/fw_cfg.h>
#include <vmvars/vmfwupdate.h>
#include <vmvars/firmware.h>
#include <vmvars/secureboot.h>
#include <vmvars/sigdb.h>
#include <vmvars/mor.h>
#include <vmvars/snapshot.h>
#include <vmvars/vmm_protocol.h>
#include <vmvars/client.h>

#define VMVARS_VERSION "0.1.0"

#endif /* VMVARS_VMVARS_H */
