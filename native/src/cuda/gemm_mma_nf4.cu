// Tensor-core GEMM instantiations: the projections with NF4 weights, dequantized as their tiles load:
// x·Wᵀ and dy·W, both tile shapes.
// One file per group so that a many-core build compiles the groups in parallel; the list is in
// gemm_mma.cuh (TS_GEMM_MMA_NF4_INSTANCES), the kernel there too.
#include "gemm_mma.cuh"

namespace tunesmith {
namespace cuda {
namespace mma {

TS_GEMM_MMA_NF4_INSTANCES(TS_GEMM_MMA_DEFINE)

}  // namespace mma
}  // namespace cuda
}  // namespace tunesmith
