namespace Kairo.Onnx.Tests;

public sealed class BindingTests
{
    public BindingTests() => Repo.LoadOnnxRuntime();

    [Fact]
    public void LibraryReportsVersionAndCpuProvider()
    {
        Assert.Equal("1.30.0", OnnxRuntimeLibrary.Version);
        Assert.Contains("CPU", OnnxRuntimeLibrary.AvailableProviders);
        Assert.True(OnnxRuntimeLibrary.HasProvider("CPUExecutionProvider"));
        Assert.False(OnnxRuntimeLibrary.HasProvider("CANN"));
        Assert.StartsWith("ORT Build Info", OnnxRuntimeLibrary.BuildInfo);
    }

    [Fact]
    public void MetadataDescribesInputsOutputsAndModel()
    {
        using var session = InferenceSession.Open(Repo.Model("pilotnet.onnx"));
        var camera = Assert.Single(session.Inputs);
        Assert.Equal("camera", camera.Name);
        Assert.Equal(OnnxValueKind.Tensor, camera.Kind);
        Assert.Equal(TensorElementType.Float, camera.ElementType);
        Assert.Equal([1L, 3, 66, 200], camera.Shape);
        Assert.True(camera.IsFixedShape);
        Assert.Equal("controls: float[1,2]", session.Outputs[0].ToString());
        Assert.Equal("kairo-make-models", session.Metadata.ProducerName);
        Assert.Equal("pilotnet", session.Metadata.GraphName);
        Assert.True(session.Metadata.Custom.ContainsKey("kairo.kind"));
    }

    [Fact]
    public void SymbolicDimensionsAreNamed()
    {
        using var session = InferenceSession.Open(Repo.Model("mlp_policy.onnx"));
        var observation = session.Inputs[0];
        Assert.Equal([-1L, 48], observation.Shape);
        Assert.Equal("batch", observation.SymbolicDims[0]);
        Assert.False(observation.IsFixedShape);
        Assert.Equal("observation: float[batch,48]", observation.ToString());
    }

    [Fact]
    public void RunsOverCallerMemoryAndWritesPreallocatedOutputs()
    {
        using var v1 = InferenceSession.Open(Repo.Model("scale_add_v1.onnx"));
        using var v2 = InferenceSession.Open(File.ReadAllBytes(Repo.Model("scale_add_v2.onnx")));
        float[] x = [0, 1, 2, 3];
        float[] y = new float[4];
        using var input = OrtTensor.CreateOver<float>(x, [1, 4]);
        using var output = OrtTensor.CreateOver<float>(y, [1, 4]);
        v1.Run([input], [output]);
        Assert.Equal([1f, 2, 3, 4], y);
        v2.Run([input], [output]);
        Assert.Equal([2f, 3, 4, 5], y);
        x[0] = 10; // the tensor reads the caller's array in place
        v2.Run([input], [output]);
        Assert.Equal(12f, y[0]);
    }

    [Fact]
    public void EveryElementTypeRoundTripsThroughTheModel()
    {
        using var session = InferenceSession.Open(Repo.Model("all_types.onnx"));
        var inputs = new OrtTensor[session.Inputs.Count];
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                var node = session.Inputs[i];
                long[] shape = node.Shape.Select(d => d < 0 ? 5L : d).ToArray();
                if (node.ElementType == TensorElementType.String)
                {
                    inputs[i] = OrtTensor.CreateStrings(["a", "βγ", "", "drive", "stop", "🤖"], shape);
                    continue;
                }

                inputs[i] = OrtTensor.Allocate(node.ElementType, shape);
                var bytes = inputs[i].GetBytes();
                for (int b = 0; b < bytes.Length; b++)
                {
                    bytes[b] = node.ElementType == TensorElementType.Bool ? (byte)(b % 2) : (byte)(b * 7 + i);
                }
            }

            var outputs = session.Run(inputs);
            for (int i = 0; i < outputs.Length; i++)
            {
                using var output = outputs[i];
                int inputIndex = session.InputIndex(session.Outputs[i].Name.Replace("out_", "in_"));
                var input = inputs[inputIndex];
                Assert.Equal(input.ElementType, output.ElementType);
                Assert.Equal(input.Shape.ToArray(), output.Shape.ToArray());
                if (input.ElementType == TensorElementType.String)
                {
                    Assert.Equal(["a", "βγ", "", "drive", "stop", "🤖"], output.GetStrings());
                }
                else
                {
                    Assert.True(input.GetBytes().SequenceEqual(output.GetBytes()), $"{session.Outputs[i].Name} differs");
                }
            }
        }
        finally
        {
            foreach (var t in inputs)
            {
                t?.Dispose();
            }
        }
    }

    [Fact]
    public void TypedViewsMatchTheElementType()
    {
        using var half = OrtTensor.Allocate<Half>([2, 3]);
        half.GetData<Half>()[1] = (Half)1.5f;
        Assert.Equal(TensorElementType.Float16, half.ElementType);
        Assert.Equal((Half)1.5f, half.GetData<Half>()[1]);
        using var bf = OrtTensor.Allocate<BFloat16>([3]);
        bf.GetData<BFloat16>()[2] = (BFloat16)(-2.25f);
        Assert.Equal(-2.25f, (float)bf.GetData<BFloat16>()[2]);
        using var flags = OrtTensor.CreateOver<bool>(new[] { true, false }, [2]);
        Assert.Equal(TensorElementType.Bool, flags.ElementType);
        Assert.Throws<ArgumentException>(() => flags.GetData<int>());
        Assert.Throws<ArgumentException>(() => OrtTensor.CreateOver<float>(new float[5], [2, 3]));
        Assert.Throws<ArgumentException>(() => OrtTensor.Allocate<float>([-1, 3]));
        using var empty = OrtTensor.Allocate<float>([0, 3]);
        Assert.Equal(0, empty.ElementCount);
        Assert.True(empty.GetData<float>().IsEmpty);
        Assert.True(empty.GetBytes().IsEmpty);
    }

    [Fact]
    public void RecurrentStateFeedsBackAndChangesTheOutput()
    {
        using var session = InferenceSession.Open(Repo.Model("recurrent_policy.onnx"));
        Assert.Equal(["observation", "hidden_in"], session.Inputs.Select(n => n.Name));
        Assert.Equal(["action", "hidden_out"], session.Outputs.Select(n => n.Name));
        var observation = new float[32];
        Array.Fill(observation, 0.25f);
        var hidden = new float[64];
        var action = new float[8];
        var hiddenOut = new float[64];
        using var obs = OrtTensor.CreateOver<float>(observation, [1, 32]);
        using var hin = OrtTensor.CreateOver<float>(hidden, [1, 64]);
        using var act = OrtTensor.CreateOver<float>(action, [1, 8]);
        using var hout = OrtTensor.CreateOver<float>(hiddenOut, [1, 64]);
        session.Run([obs, hin], [act, hout]);
        float[] first = (float[])action.Clone();
        hiddenOut.CopyTo(hidden, 0);
        session.Run([obs, hin], [act, hout]);
        Assert.NotEqual(first, action);
    }

    [Fact]
    public void BadModelsGiveOnnxRuntimeErrors()
    {
        var missing = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.Open("/nonexistent/model.onnx"));
        Assert.Equal(OrtErrorCode.NoSuchFile, missing.ErrorCode);
        var garbage = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.Open(new byte[] { 1, 2, 3, 4, 5 }));
        Assert.NotEqual(OrtErrorCode.Ok, garbage.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(garbage.Message));
    }

    [Fact]
    public void WrongRunsAreRefusedWithClearErrors()
    {
        using var session = InferenceSession.Open(Repo.Model("scale_add_v1.onnx"));
        using var wrongShape = OrtTensor.Allocate<float>([1, 5]);
        using var output = OrtTensor.Allocate<float>([1, 4]);
        var shape = Assert.Throws<OnnxRuntimeException>(() => session.Run([wrongShape], [output]));
        Assert.Equal(OrtErrorCode.InvalidArgument, shape.ErrorCode);
        Assert.Throws<ArgumentException>(() => session.Run([], [output]));
        using var wrongType = OrtTensor.Allocate<int>([1, 4]);
        Assert.Throws<OnnxRuntimeException>(() => session.Run([wrongType], [output]));
    }

    [Fact]
    public void MissingProvidersFallBackUnlessRequired()
    {
        var options = new SessionOptions
        {
            ExecutionProviders =
            [
                new ExecutionProvider("CANN", new Dictionary<string, string> { ["device_id"] = "0", ["npu_mem_limit"] = "2147483648" }),
                new ExecutionProvider("CUDA"),
                ExecutionProvider.Cpu,
            ],
            IntraOpThreads = 1,
        };
        using var session = InferenceSession.Open(Repo.Model("scale_add_v1.onnx"), options);
        Assert.Equal(3, session.Providers.Count);
        Assert.False(session.Providers[0].Appended);
        Assert.Contains("not in this ONNX Runtime build", session.Providers[0].Reason);
        Assert.True(session.Providers[2].Appended);

        var required = new SessionOptions { ExecutionProviders = [new ExecutionProvider("CANN", Required: true)] };
        var error = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.Open(Repo.Model("scale_add_v1.onnx"), required));
        Assert.Equal(OrtErrorCode.EpFail, error.ErrorCode);
        Assert.Contains("CANN", error.Message);
    }

    [Fact]
    public void SessionOptionsAreApplied()
    {
        string optimized = Path.Combine(Path.GetTempPath(), $"kairo-opt-{Guid.NewGuid():N}.onnx");
        try
        {
            var options = new SessionOptions
            {
                IntraOpThreads = 1,
                InterOpThreads = 1,
                GraphOptimizationLevel = GraphOptimizationLevel.Extended,
                OptimizedModelPath = optimized,
                AllowSpinning = false,
                LogId = "test",
            };
            using var session = InferenceSession.Open(Repo.Model("mlp_policy.onnx"), options);
            Assert.True(File.Exists(optimized), "the optimized model was written");
            using var reopened = InferenceSession.Open(optimized);
            Assert.Equal("observation", reopened.Inputs[0].Name);
        }
        finally
        {
            File.Delete(optimized);
        }
    }

    [Fact]
    public void IoBindingRunsWithoutPassingValues()
    {
        using var session = InferenceSession.Open(Repo.Model("scale_add_v2.onnx"));
        using var binding = session.CreateIoBinding();
        using var x = OrtTensor.CreateOver<float>(new float[] { 1, 2, 3, 4 }, [1, 4]);
        using var y = OrtTensor.Allocate<float>([1, 4]);
        binding.BindInput("x", x);
        binding.BindOutput("y", y);
        binding.Run();
        Assert.Equal([3f, 4, 5, 6], y.GetData<float>().ToArray());
        x.GetData<float>()[0] = 100;
        binding.Run();
        Assert.Equal(102f, y.GetData<float>()[0]);

        binding.ClearOutputs();
        binding.BindOutputToCpu("y");
        binding.Run();
        var outputs = binding.GetOutputs();
        using var allocated = Assert.Single(outputs);
        Assert.Equal([102f, 4, 5, 6], allocated.GetData<float>().ToArray());
        Assert.Throws<ArgumentException>(() => binding.BindInput("nope", x));
    }

    [Fact]
    public void TerminatedRunOptionsStopRuns()
    {
        using var session = InferenceSession.Open(Repo.Model("pilotnet.onnx"));
        using var options = new RunOptions { Tag = "terminate-test", LogSeverity = 4 };
        using var camera = OrtTensor.Allocate<float>([1, 3, 66, 200]);
        using var controls = OrtTensor.Allocate<float>([1, 2]);
        options.Terminate();
        Assert.Throws<OnnxRuntimeException>(() => session.Run([camera], [controls], options));
        options.Reset();
        session.Run([camera], [controls], options);
        Assert.InRange(controls.GetData<float>()[0], -1f, 1f);
    }
}
