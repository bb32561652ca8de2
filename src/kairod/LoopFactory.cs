using Kairo.Daemon.Config;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;
using Kairo.Runtime.Sinks;
using Kairo.Runtime.Sources;
using Microsoft.Extensions.Logging;

namespace Kairo.Daemon;

/// <summary>Turns checked profile sections into the runtime's models, loops, sources and sinks.</summary>
internal sealed class LoopFactory(
    LoadedProfile loaded,
    string stateDirectory,
    ILoggerFactory logs,
    Kairo.Control.Plane.ControlPlane? controlPlane = null,
    Kairo.Updates.Device.UpdateAgent? updates = null)
{
    private readonly Profile _profile = loaded.Profile;

    /// <summary>The version of the model that runs: the one an update installed and committed, else the profile's.</summary>
    public ModelSource ModelSource(string modelName)
    {
        return updates?.ActiveModel(modelName) is var (path, version)
            ? StoredModelSource(modelName, path, version.Version, version.Release)
            : ProfileModelSource(modelName);
    }

    /// <summary>A version from the model store, loaded with the profile's settings for the model.</summary>
    public ModelSource StoredModelSource(string modelName, string path, long version, string release)
    {
        return ProfileModelSource(modelName, version) with { Path = path, Version = version, Release = release };
    }

    /// <summary>The model as the profile configures it, with its session options.</summary>
    /// <param name="cacheVersion">The version whose optimized model cache file the options name; the profile's by default.</param>
    /// <param name="allowSpinning">Overrides the profile's allowSpinning (the golden gate never spins).</param>
    public ModelSource ProfileModelSource(string modelName, long? cacheVersion = null, bool? allowSpinning = null)
    {
        var m = _profile.Models!.Single(x => x.Name == modelName);
        string path = Path.GetFullPath(m.Path!, loaded.BaseDirectory);
        var options = new SessionOptions
        {
            IntraOpThreads = m.IntraOpThreads ?? 1,
            InterOpThreads = m.InterOpThreads ?? 1,
            GraphOptimizationLevel = m.GraphOptimization switch
            {
                "disabled" => GraphOptimizationLevel.Disabled,
                "basic" => GraphOptimizationLevel.Basic,
                "extended" => GraphOptimizationLevel.Extended,
                "layout" => GraphOptimizationLevel.Layout,
                _ => GraphOptimizationLevel.All,
            },
            AllowSpinning = allowSpinning ?? m.AllowSpinning,
            OptimizedModelPath = m.OptimizedModelCache == true ? CachePath(m.Name!, cacheVersion ?? m.Version ?? 0) : null,
            ExecutionProviders = (m.Providers ?? []).Select(p => new ExecutionProvider(p.Name!, p.Options, p.Required ?? false)).ToList(),
            LogId = m.Name,
        };
        if (options.OptimizedModelPath is { } cache)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(cache)!);
        }

        return new ModelSource(m.Name!, path, null, options, m.Version ?? 0, m.Release ?? "");
    }

    /// <summary>Where ONNX Runtime writes a version's optimized model: one file per version, so versions never share one.</summary>
    private string CachePath(string model, long version) => Path.Combine(stateDirectory, "cache", $"{model}-v{version}.optimized.onnx");

    public static LoopOptions LoopOptions(LoopSection l) => new()
    {
        Name = l.Name!,
        RateHz = l.RateHz!.Value,
        Deadline = l.DeadlineMs is double ms ? TimeSpan.FromMilliseconds(ms) : null,
        MissPolicy = l.MissPolicy switch
        {
            "skip" => MissPolicy.Skip,
            "hold" => MissPolicy.Hold,
            _ => MissPolicy.Safe,
        },
        SafeOutputs = l.SafeOutput ?? new Dictionary<string, float[]>(),
        CpuAffinity = l.CpuAffinity ?? [],
        Priority = l.Priority,
        InputShapes = l.Inputs ?? new Dictionary<string, long[]>(),
        State = (l.State ?? []).Select(s => new StateEdge(s.From!, s.To!)).ToList(),
    };

    public IFrameSource Source(SourceSection s) => s.Type switch
    {
        "udp" => DatagramSource.Udp(s.Address!),
        "unix" => DatagramSource.Unix(Resolve(s.Path!)),
        "ring" => new FrameRingSource(Resolve(s.Path!), create: s.Create ?? true, slots: s.Slots ?? FrameRing.DefaultSlotCount),
        "replay" => new ReplaySource(Resolve(s.Path!), loop: s.Loop ?? true),
        _ => new SyntheticSource(
            s.Pattern switch
            {
                "noise" => SyntheticPattern.Noise,
                "constant" => SyntheticPattern.Constant,
                _ => SyntheticPattern.Wave,
            },
            s.Value ?? 0.5f,
            s.Seed ?? 1),
    };

    public IFrameSink Sink(SinkSection s, string loopName) => s.Type switch
    {
        "udp" => DatagramSink.Udp(s.Address!),
        "unix" => DatagramSink.Unix(Resolve(s.Path!)),
        "mqtt" => controlPlane is { } plane
            ? new Kairo.Control.Plane.MqttSink(plane.PublishOutput, s.Topic ?? $"{plane.Prefix}/outputs/{loopName}", loopName, s.EveryTicks ?? 10, s.Qos ?? 0)
            : throw new LoopConfigurationException("an mqtt sink needs a broker: set $.mqtt.broker or pass --broker"),
        _ => new LogSink(logs.CreateLogger($"loop {loopName}"), s.EveryTicks ?? 100),
    };

    private string Resolve(string path) => Path.GetFullPath(path, loaded.BaseDirectory);
}
