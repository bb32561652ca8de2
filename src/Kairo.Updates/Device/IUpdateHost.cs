using Kairo.Onnx;
using Kairo.Runtime.Loops;

namespace Kairo.Updates.Device;

/// <summary>What the update agent needs from the daemon: who the device is, which loops run a model, and how the profile loads it.</summary>
public interface IUpdateHost
{
    /// <summary>The board name packages must list (<c>compatibleBoards</c>).</summary>
    string Board { get; }

    string KairoVersion { get; }

    string OnnxRuntimeVersion { get; }

    /// <summary>The loops that run <paramref name="model"/>; empty when this device does not run it.</summary>
    IReadOnlyList<ControlLoop> LoopsOf(string model);

    /// <summary>The version the profile gives <paramref name="model"/> (its baseline before any update), 0 when none.</summary>
    long ProfileVersion(string model);

    /// <summary>
    /// How the golden gate loads <paramref name="version"/> of <paramref name="model"/>: the profile's providers,
    /// threads and optimization, with that version's own cache file, and ONNX Runtime's threads never spinning, so
    /// that the gate's hundreds of runs do not take the CPUs the loops run on.
    /// </summary>
    SessionOptions SessionOptions(string model, long version);

    /// <summary>A model source for <paramref name="model"/> read from <paramref name="path"/> with the profile's settings.</summary>
    ModelSource Source(string model, string path, long version, string release);

    /// <summary>The model as the profile configures it: what runs when no update is installed.</summary>
    ModelSource ProfileSource(string model);

    /// <summary>A loop now runs another model version (<c>model.activated</c>, <c>model.rolled-back</c>): for events and a fresh birth.</summary>
    void ModelChanged(ControlLoop loop, string eventType, string previous);
}
