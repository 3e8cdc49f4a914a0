// Tensor-core GEMM instantiations: LoRA's small GEMMs (fp32 factors rounded to bf16 as they load), the small tile.
// One file per group so that a many-core build compiles the groups in parallel; the list is in
// gemm_mma.cuh (TS_GEMM_MMA_LORA_INSTANCES), the kernel there too.
#include "gemm_mma.cuh"

namespace tunesmith {
namespace cuda {
namespace mma {

TS_GEMM_MMA_LORA_INSTANCES(TS_GEMM_MMA_DEFINE)

}  // namespace mma
}  // namespace cuda
}  // namespace tunesmith
