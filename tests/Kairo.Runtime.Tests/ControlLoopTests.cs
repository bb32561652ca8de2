using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sources;

namespace Kairo.Runtime.Tests;

public sealed class ControlLoopTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public ControlLoopTests() => Repo.LoadOnnxRuntime();

    private static ControlLoop CreateLoop(string model, RecordingSink sink, double rateHz, MissPolicy policy = MissPolicy.Safe, TimeSpan? deadline = null, IFrameSource? source = null, IReadOnlyList<StateEdge>? state = null, long version = 1)
    {
        var options = new LoopOptions
        {
            Name = "test",
            RateHz = rateHz,
            MissPolicy = policy,
            Deadline = deadline,
            SafeOutputs = new Dictionary<string, float[]> { [model.StartsWith("scale_add") ? "y" : model.StartsWith("recurrent") ? "action" : "joint_targets"] = [-7f] },
            State = state ?? [],
        };
        var instance = ModelInstance.Load(Repo.Source(model, version), options);
        return new ControlLoop(options, instance, source ?? new SyntheticSource(SyntheticPattern.Constant, 0f), [sink]);
    }

    [Fact]
    public void FreshOutputsComeFromTheModel()
    {
        // 50 Hz leaves the first ticks room for the JIT of this test process; the AOT daemon needs none.
        using var sink = new RecordingSink(64, 20);
        using var loop = CreateLoop("scale_add_v1.onnx", sink, 50);
        loop.Start();
        Assert.True(sink.Reached.Wait(Patience));
        loop.Stop();
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(FrameFlags.None, sink.Flags(i));
            Assert.Equal(1f, sink.Value(i)); // y = 0 * 1 + 1
            Assert.Equal((ulong)(i + 1), sink.Tick(i));
        }

        int last = sink.Count - 1;
        Assert.Equal(FrameFlags.Safe, sink.Flags(last)); // a stopping loop's last word
        Assert.Equal(-7f, sink.Value(last));
        Assert.True(loop.Metrics.Ticks >= 20);
    }

    [Theory]
    [InlineData(MissPolicy.Safe)]
    [InlineData(MissPolicy.Hold)]
    [InlineData(MissPolicy.Skip)]
    public void MissedDeadlinesFollowThePolicy(MissPolicy policy)
    {
        // A deadline of one nanosecond: every inference misses it.
        using var sink = new RecordingSink(64, policy == MissPolicy.Skip ? 1 : 10);
        using var loop = CreateLoop("scale_add_v1.onnx", sink, 200, policy, TimeSpan.FromTicks(1) / 100);
        loop.Start();
        if (policy == MissPolicy.Skip)
        {
            SpinWait.SpinUntil(() => loop.Metrics.Ticks >= 10, Patience);
            loop.Stop();
            Assert.Equal(1, sink.Count); // only the stop's safe output
            Assert.Equal(FrameFlags.Safe, sink.Flags(0));
            Assert.True(loop.Metrics.SkippedOutputs >= 10);
        }
        else
        {
            Assert.True(sink.Reached.Wait(Patience));
            loop.Stop();
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal(policy == MissPolicy.Safe ? FrameFlags.Safe : FrameFlags.Held, sink.Flags(i));
                Assert.Equal(-7f, sink.Value(i)); // hold repeats the last good output, which is the safe one until a tick succeeds
            }
        }

        Assert.True(loop.Metrics.DeadlineMisses >= 10);
        Assert.True(loop.Metrics.Misses(MissCause.SlowInference) + loop.Metrics.Misses(MissCause.LateWakeup) >= 10);
    }

    [Fact]
    public void SafeOverrideTakesEffectAtTheNextTickAndReleases()
    {
        using var sink = new RecordingSink(4096, 4000);
        using var loop = CreateLoop("scale_add_v1.onnx", sink, 200);
        loop.Start();
        SpinWait.SpinUntil(() => sink.Count >= 5 && sink.Flags(sink.Count - 1) == FrameFlags.None, Patience);
        loop.SetSafeOverride(true);
        int from = sink.Count + 1; // the tick in flight may still be fresh
        SpinWait.SpinUntil(() => sink.Count >= from + 10, Patience);
        loop.SetSafeOverride(false);
        int released = sink.Count + 1;
        SpinWait.SpinUntil(() => sink.Count >= released + 10, Patience);
        loop.Stop();
        for (int i = from; i < from + 10; i++)
        {
            Assert.Equal(FrameFlags.Safe, sink.Flags(i));
            Assert.Equal(-7f, sink.Value(i));
        }

        for (int i = released; i < released + 10; i++)
        {
            Assert.Equal(FrameFlags.None, sink.Flags(i));
            Assert.Equal(1f, sink.Value(i));
        }
    }

    [Fact]
    public void RecurrentStateIsCarriedBetweenTicks()
    {
        using var sink = new RecordingSink(64, 10);
        using var loop = CreateLoop("recurrent_policy.onnx", sink, 50, source: new SyntheticSource(SyntheticPattern.Constant, 0.25f), state: [new StateEdge("hidden_out", "hidden_in")]);
        Assert.Equal(["observation"], loop.Layout.Input.Slots.Select(s => s.Name));
        Assert.Equal(["hidden_in"], loop.Layout.State.Slots.Select(s => s.Name));
        loop.Start();
        Assert.True(sink.Reached.Wait(Patience));
        loop.Stop();

        // The same ten ticks by hand: feed hidden_out back as hidden_in.
        using var session = Onnx.InferenceSession.Open(Repo.Model("recurrent_policy.onnx"));
        var observation = Enumerable.Repeat(0.25f, 32).ToArray();
        var hidden = new float[64];
        for (int i = 0; i < 10; i++)
        {
            using var obs = Onnx.OrtTensor.CreateOver<float>(observation, [1, 32]);
            using var hin = Onnx.OrtTensor.CreateOver<float>(hidden, [1, 64]);
            var outputs = session.Run([obs, hin]);
            Assert.Equal(outputs[0].GetData<float>()[0], sink.Value(i), 5);
            outputs[1].GetData<float>().CopyTo(hidden);
            foreach (var o in outputs)
            {
                o.Dispose();
            }
        }

        Assert.NotEqual(sink.Value(0), sink.Value(9)); // the state changed the answer to the same observation
    }

    [Fact]
    public void RateChangesTakeEffectWithoutRestart()
    {
        using var sink = new RecordingSink(16, 3);
        using var loop = CreateLoop("scale_add_v1.onnx", sink, 1);
        loop.Start();
        loop.SetRate(500); // the first tick was due in a second: the loop picks up the new period from the next one
        Assert.Equal(500, loop.RateHz, 3);
        Assert.True(sink.Reached.Wait(Patience));
        loop.Stop();
        Assert.Throws<ArgumentOutOfRangeException>(() => loop.SetRate(0));
    }

    [Fact]
    public void ConfigurationErrorsNameTheProblem()
    {
        var badEdge = new LoopOptions { Name = "x", RateHz = 10, State = [new StateEdge("nope", "hidden_in")] };
        var e1 = Assert.Throws<LoopConfigurationException>(() => ModelInstance.Load(Repo.Source("recurrent_policy.onnx"), badEdge));
        Assert.Contains("no output 'nope'", e1.Message);

        var badShape = new LoopOptions { Name = "x", RateHz = 10, InputShapes = new Dictionary<string, long[]> { ["observation"] = [1, 47] } };
        var e2 = Assert.Throws<LoopConfigurationException>(() => ModelInstance.Load(Repo.Source("mlp_policy.onnx"), badShape));
        Assert.Contains("dimension 1 is 48", e2.Message);

        var options = new LoopOptions { Name = "x", RateHz = 10, SafeOutputs = new Dictionary<string, float[]> { ["joint_targets"] = [1, 2, 3] } };
        using var model = ModelInstance.Load(Repo.Source("mlp_policy.onnx"), options);
        Assert.Contains(model.Layout.Notes, n => n.Contains("'batch' fixed to 1"));
        var e3 = Assert.Throws<LoopConfigurationException>(() => new ControlLoop(options, model, new SyntheticSource(), []));
        Assert.Contains("give 1 (fills the tensor) or 12", e3.Message);

        var loopOptions = new LoopOptions { Name = "x", RateHz = 10 };
        using var v1 = ModelInstance.Load(Repo.Source("scale_add_v1.onnx"), loopOptions);
        var e4 = Assert.Throws<LoopConfigurationException>(() => ModelInstance.Load(Repo.Source("mlp_policy.onnx"), loopOptions, v1.Layout));
        Assert.Contains("input 'x' is missing", e4.Message);
    }
}
