using Kairo.Onnx.Interop;

namespace Kairo.Onnx;

/// <summary>Per-run settings, and the switch that stops a run in progress from another thread.</summary>
public sealed unsafe class RunOptions : IDisposable
{
    public RunOptions()
    {
        Handle = OnnxRuntime.CreateRunOptions();
    }

    internal OrtRunOptionsHandle Handle { get; }

    /// <summary>Makes every run using these options stop as soon as it can, with an error.</summary>
    public void Terminate() => OnnxRuntime.SetTerminate(Handle, true);

    /// <summary>Lets runs with these options proceed again after <see cref="Terminate"/>.</summary>
    public void Reset() => OnnxRuntime.SetTerminate(Handle, false);

    /// <summary>A tag on ONNX Runtime's log lines for runs with these options.</summary>
    public string Tag { set => OnnxRuntime.SetRunTag(Handle, value); }

    /// <summary>ONNX Runtime's log threshold for these runs: 0 verbose .. 4 fatal.</summary>
    public int LogSeverity { set => OnnxRuntime.SetRunLogSeverity(Handle, value); }

    public void Dispose() => Handle.Dispose();
}
