/* API requests for net, vsock, entropy and balloon; private to vmm/core. */
#ifndef KILN_VMM_API_DEVICES_H
#define KILN_VMM_API_DEVICES_H

#include <stdbool.h>

#include "vmm/core/vmm.h"

/* Runs req if it is one of these devices' (the state rule already passed):
 * true when it was, with res filled. */
bool vmm_api_device_handle(struct vmm *vmm, const struct api_request *req, struct api_result *res);

#endif
