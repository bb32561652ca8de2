using Kairo.Onnx;
using Kairo.Runtime.Loops;
using Kairo.Updates.Device;

namespace Kairo.Daemon.Updates;

/// <summary>The daemon as the update agent sees it: the board, the loops of a model, and the profile's way of loading it.</summary>
internal sealed class UpdateHost(Daemon daemon) : IUpdateHost
{
    public string Board => daemon.Profile.Profile.Board ?? "";

    public string KairoVersion => DaemonCommand.KairoVersion;

    public string OnnxRuntimeVersion => OnnxRuntimeLibrary.Version;

    public IReadOnlyList<ControlLoop> LoopsOf(string model) =>
        daemon.Profile.Profile.Models?.Any(m => m.Name == model) == true ? daemon.Loops.Where(l => l.Model.Name == model).ToList() : [];

    public long ProfileVersion(string model) => daemon.Profile.Profile.Models?.FirstOrDefault(m => m.Name == model)?.Version ?? 0;

    public SessionOptions SessionOptions(string model, long version) => daemon.Factory.ProfileModelSource(model, version, allowSpinning: false).Options;

    public ModelSource Source(string model, string path, long version, string release) =>
        daemon.Factory.StoredModelSource(model, path, version, release);

    public ModelSource ProfileSource(string model) => daemon.Factory.ProfileModelSource(model);

    public void ModelChanged(ControlLoop loop, string eventType, string previous) =>
        daemon.LoopChanged(loop, eventType, new System.Text.Json.Nodes.JsonObject { ["previous"] = previous });
}
