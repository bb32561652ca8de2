using System.Diagnostics;
using Kairo.Onnx;

namespace Kairo.Runtime.Loops;

/// <summary>Where a model comes from and how to run it.</summary>
/// <param name="Name">The model's name in the profile (and in packages).</param>
/// <param name="Path">The model file; or null with <paramref name="Bytes"/>.</param>
/// <param name="Bytes">The model's bytes, when it is not read from a file.</param>
/// <param name="Options">Session options: threads, providers, optimization.</param>
/// <param name="Version">The monotonic version of this model (0 when unversioned).</param>
/// <param name="Release">A human release string.</param>
public sealed record ModelSource(string Name, string? Path, ReadOnlyMemory<byte>? Bytes, SessionOptions Options, long Version = 0, string Release = "");

/// <summary>
/// A model loaded, checked against a loop's layout and warmed up off the loop thread, so that the loop can start
/// on it or swap to it between two ticks without a pause.
/// </summary>
public sealed class ModelInstance : IDisposable
{
    private IoBinding? _binding;

    private ModelInstance(ModelSource source, InferenceSession session, LoopLayout layout, double[] warmupMilliseconds)
    {
        Source = source;
        Session = session;
        Layout = layout;
        WarmupMilliseconds = warmupMilliseconds;
    }

    public ModelSource Source { get; }

    public string Name => Source.Name;

    public long Version => Source.Version;

    public InferenceSession Session { get; }

    public LoopLayout Layout { get; }

    /// <summary>Latency of each warm-up run, milliseconds, first (coldest) first.</summary>
    public IReadOnlyList<double> WarmupMilliseconds { get; }

    /// <summary>The median of the warm-up runs after the first.</summary>
    public double WarmupMedianMilliseconds
    {
        get
        {
            var warm = WarmupMilliseconds.Skip(WarmupMilliseconds.Count > 1 ? 1 : 0).Order().ToArray();
            return warm.Length == 0 ? 0 : warm[warm.Length / 2];
        }
    }

    internal IoBinding Binding => _binding ?? throw new InvalidOperationException($"model {Name} is not bound to a loop");

    /// <summary>
    /// Loads <paramref name="source"/> for a loop: with <paramref name="layout"/> null the loop's layout is derived
    /// from this model; otherwise the model must fit that layout (a swap). Runs <paramref name="warmupRuns"/>
    /// inferences on scratch tensors, never on a live loop's buffers.
    /// </summary>
    public static ModelInstance Load(ModelSource source, LoopOptions options, LoopLayout? layout = null, int warmupRuns = 5)
    {
        var session = source.Path != null ? InferenceSession.Open(source.Path, source.Options)
            : InferenceSession.Open(source.Bytes ?? throw new ArgumentException("a model source needs a path or bytes"), source.Options);
        try
        {
            if (layout != null && layout.Mismatch(session) is { } mismatch)
            {
                throw new LoopConfigurationException($"model {source.Name} does not fit loop {options.Name}: {mismatch}");
            }

            var draft = layout ?? LoopLayout.Create(session, options.InputShapes, options.State, []);
            var timings = new double[Math.Max(1, warmupRuns)];
            var outputs = WarmUp(session, draft, timings);
            if (layout == null)
            {
                // Dynamic output dimensions are known once the model has run on the loop's input shapes.
                draft = LoopLayout.Create(session, options.InputShapes, options.State, outputs);
            }
            else
            {
                foreach (var (name, shape) in outputs)
                {
                    var slot = layout.Output.Find(name)!;
                    if (!slot.Shape.SequenceEqual(shape))
                    {
                        throw new LoopConfigurationException($"model {source.Name} does not fit loop {options.Name}: output '{name}' has shape [{string.Join(',', shape)}], the loop expects [{string.Join(',', slot.Shape)}]");
                    }
                }
            }

            return new ModelInstance(source, session, draft, timings);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static List<(string Name, long[] Shape)> WarmUp(InferenceSession session, LoopLayout layout, double[] timings)
    {
        var inputs = new OrtTensor[session.Inputs.Count];
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                var slot = layout.Input.Find(session.Inputs[i].Name) ?? layout.State.Find(session.Inputs[i].Name)!;
                inputs[i] = OrtTensor.Allocate(slot.ElementType, slot.Shape);
            }

            List<(string, long[])> shapes = [];
            for (int run = 0; run < timings.Length; run++)
            {
                long start = Stopwatch.GetTimestamp();
                var outputs = session.Run(inputs);
                timings[run] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                shapes = [];
                for (int o = 0; o < outputs.Length; o++)
                {
                    shapes.Add((session.Outputs[o].Name, outputs[o].Shape.ToArray()));
                    outputs[o].Dispose();
                }
            }

            return shapes;
        }
        finally
        {
            foreach (var t in inputs)
            {
                t?.Dispose();
            }
        }
    }

    /// <summary>Binds the model to a loop's buffers: its runs then read and write them in place.</summary>
    internal void Bind(LoopBuffers buffers)
    {
        var binding = Session.CreateIoBinding();
        try
        {
            for (int i = 0; i < buffers.InputTensors.Length; i++)
            {
                binding.BindInput(buffers.InputNames[i], buffers.InputTensors[i]);
            }

            for (int i = 0; i < buffers.OutputTensors.Length; i++)
            {
                binding.BindOutput(buffers.OutputNames[i], buffers.OutputTensors[i]);
            }
        }
        catch
        {
            binding.Dispose();
            throw;
        }

        _binding?.Dispose();
        _binding = binding;
    }

    public void Dispose()
    {
        _binding?.Dispose();
        Session.Dispose();
    }
}
