package dev.chela4j;

/**
 * Runs the GPU Java test without Maven or a JUnit launcher, for the lent GPU machine (it has no JDK
 * or Maven: tools/device/java_gpu.sh carries a jlinked runtime and the compiled classes).
 */
public final class GpuSmoke {
    public static void main(String[] args) {
        if (!DeviceTensorTest.cudaPresent()) {
            System.out.println("GPU Java smoke: no CUDA device visible to libchela");
            System.exit(2);
        }
        DeviceTensorTest tensors = new DeviceTensorTest();
        tensors.deviceRoundTripAndLinearAttentionEqualTheCpu();
        tensors.channelsMajorConvOnDeviceEqualsTheCpu();
        CudaModelTest models = new CudaModelTest();
        models.byteLmOnTheGpuEqualsTheCpu();
        models.listOpsClassifiesOnTheGpuLikeTheCpu();
        models.badInputsAndStreamingFailCleanlyOnTheGpu();
        System.out.println("GPU Java smoke: PASSED (device tensors round trip; linear attention and channel-major conv on device = CPU; "
                + "CudaModelTest: shipped models on the GPU = CPU, bad input and streaming fail cleanly)");
    }

    private GpuSmoke() {}
}
