namespace Kairo.Onnx.Tests;

/// <summary>Steady-state runs allocate no managed memory: the measure is the thread's own allocation counter.</summary>
public sealed class ZeroAllocationTests
{
    private const int Runs = 10_000;

    public ZeroAllocationTests() => Repo.LoadOnnxRuntime();

    [Fact]
    public void RunWithPreallocatedOutputsAllocatesNothing()
    {
        using var session = InferenceSession.Open(Repo.Model("mlp_policy.onnx"), new SessionOptions { IntraOpThreads = 1 });
        using var observation = OrtTensor.Allocate<float>([1, 48]);
        using var targets = OrtTensor.Allocate<float>([1, 12]);
        var inputs = new[] { observation };
        var outputs = new OrtTensor?[] { targets };
        observation.GetData<float>().Fill(0.1f);

        long allocated = MeasureAllocatedBytes(() =>
        {
            for (int i = 0; i < Runs; i++)
            {
                observation.GetData<float>()[0] = i * 1e-4f;
                session.Run(inputs, outputs);
            }
        });

        Assert.Equal(0, allocated);
        Assert.Same(targets, outputs[0]);
        Assert.True(float.IsFinite(targets.GetData<float>()[0]));
    }

    [Fact]
    public void IoBindingRunAllocatesNothing()
    {
        using var session = InferenceSession.Open(Repo.Model("recurrent_policy.onnx"), new SessionOptions { IntraOpThreads = 1 });
        using var observation = OrtTensor.Allocate<float>([1, 32]);
        using var hiddenIn = OrtTensor.Allocate<float>([1, 64]);
        using var action = OrtTensor.Allocate<float>([1, 8]);
        using var hiddenOut = OrtTensor.Allocate<float>([1, 64]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("observation", observation);
        binding.BindInput("hidden_in", hiddenIn);
        binding.BindOutput("action", action);
        binding.BindOutput("hidden_out", hiddenOut);
        observation.GetData<float>().Fill(0.5f);

        long allocated = MeasureAllocatedBytes(() =>
        {
            for (int i = 0; i < Runs; i++)
            {
                binding.Run();
                hiddenOut.GetData<float>().CopyTo(hiddenIn.GetData<float>());
            }
        });

        Assert.Equal(0, allocated);
        Assert.NotEqual(0f, hiddenIn.GetData<float>()[0]);
    }

    private static long MeasureAllocatedBytes(Action steadyState)
    {
        steadyState(); // warm up: first-run JIT and ONNX Runtime's own lazy set-up
        long before = GC.GetAllocatedBytesForCurrentThread();
        steadyState();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
