using System.Security.Cryptography;
using Kairo.Onnx;
using Kairo.Runtime.Frames;
using Kairo.Runtime.Loops;

namespace Kairo.Updates.Packages;

// The model's inputs and outputs, and the checks that need the device's own state.
public sealed partial class PackageVerifier
{
    /// <summary>
    /// Loads the model with ONNX Runtime and compares its inputs and outputs, as <see cref="NodeInfo.ToString"/> prints
    /// them, with the manifest's signature. The bytes loaded are the bytes hashed here, so a file swapped after
    /// <see cref="CheckFiles"/> cannot slip in. ONNX Runtime must be loaded.
    /// </summary>
    public static PackageCheck CheckModel(string directory, PackageManifest manifest, SessionOptions? sessionOptions = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        PackageFile model = manifest.FindFile(PackagePaths.Model)!;
        if (PackageFiles.Refusal(directory, model.Path) is { } refusal)
        {
            return refusal with { Name = "model" };
        }

        if (model.Length > int.MaxValue)
        {
            return PackageCheck.Fail("model", UpdateFailure.ModelInvalid, $"{model.Path} is {model.Length} bytes; an ONNX model file is under 2 GiB");
        }

        ModelSignature actual;
        try
        {
            byte[]? bytes = PackageFiles.ReadBounded(PackagePaths.Resolve(directory, model.Path), (int)model.Length);
            if (bytes is null || bytes.Length != model.Length)
            {
                return PackageCheck.Fail("model", UpdateFailure.FileLength, $"{model.Path} changed length since its files were checked");
            }

            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(bytes), Convert.FromHexString(model.Sha256)))
            {
                return PackageCheck.Fail("model", UpdateFailure.FileHash, $"{model.Path} changed since its files were checked; its SHA-256 no longer matches");
            }

            using InferenceSession session = InferenceSession.Open(bytes, sessionOptions);
            actual = SignatureOf(session);
        }
        catch (OnnxRuntimeException ex)
        {
            return PackageCheck.Fail("model", UpdateFailure.ModelInvalid, $"ONNX Runtime refuses to load {model.Path}: {ex.Message.ReplaceLineEndings(" ")}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return PackageCheck.Fail("model", UpdateFailure.FileMissing, $"{model.Path} cannot be read: {ex.Message}");
        }

        if (!actual.Equals(manifest.Signature))
        {
            return PackageCheck.Fail("model", UpdateFailure.SignatureMismatch,
                $"the model's I/O differs from the manifest's: {Differences(actual, manifest.Signature)}. Pack the package again from this model");
        }

        return PackageCheck.Pass("model", actual.ToString());
    }

    /// <summary>A session's inputs and outputs as a manifest lists them.</summary>
    public static ModelSignature SignatureOf(InferenceSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return new ModelSignature(session.Inputs.Select(i => i.ToString()).ToArray(), session.Outputs.Select(o => o.ToString()).ToArray());
    }

    /// <summary>Fails unless the package's version is above <paramref name="installedVersion"/> (null: nothing installed yet).</summary>
    public static PackageCheck CheckVersionNewer(PackageManifest manifest, long? installedVersion)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return installedVersion is { } installed && manifest.Version <= installed
            ? PackageCheck.Fail("version", UpdateFailure.VersionNotNewer,
                $"{manifest.Model} v{manifest.Version} is not newer than v{installed}, installed before; a device never goes back to an older version: publish v{installed + 1} or later")
            : PackageCheck.Pass("version", installedVersion is { } i ? $"v{manifest.Version} is newer than v{i}" : $"v{manifest.Version}, none installed before");
    }

    /// <summary>Fails unless the manifest lists <paramref name="board"/> or every board (<c>*</c>).</summary>
    public static PackageCheck CheckBoard(PackageManifest manifest, string board)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentException.ThrowIfNullOrEmpty(board);
        bool listed = manifest.CompatibleBoards.Contains(PackageManifest.AnyBoard) || manifest.CompatibleBoards.Contains(board, StringComparer.Ordinal);
        return listed
            ? PackageCheck.Pass("board", $"{board} is compatible ({string.Join(", ", manifest.CompatibleBoards)})")
            : PackageCheck.Fail("board", UpdateFailure.BoardIncompatible,
                $"the package runs on {string.Join(", ", manifest.CompatibleBoards)}, not on {board}; pack it with --boards including {board} if it was validated there");
    }

    /// <summary>Fails when <paramref name="kairoVersion"/> or <paramref name="onnxRuntimeVersion"/> is older than the manifest needs.</summary>
    /// <exception cref="ArgumentException">A version given is not a version (the device's own values are wrong).</exception>
    public static PackageCheck CheckRuntime(PackageManifest manifest, string kairoVersion, string onnxRuntimeVersion)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        VersionNumber kairo = VersionNumber.TryParse(kairoVersion) ?? throw new ArgumentException($"'{kairoVersion}' is not a version", nameof(kairoVersion));
        VersionNumber ort = VersionNumber.TryParse(onnxRuntimeVersion) ?? throw new ArgumentException($"'{onnxRuntimeVersion}' is not a version", nameof(onnxRuntimeVersion));
        var problems = new List<string>();
        if (kairo < VersionNumber.TryParse(manifest.MinKairoVersion)!.Value)
        {
            problems.Add($"it needs Kairo {manifest.MinKairoVersion} or later, this is {kairoVersion}");
        }

        if (ort < VersionNumber.TryParse(manifest.Runtime.OnnxRuntime)!.Value)
        {
            problems.Add($"it needs ONNX Runtime {manifest.Runtime.OnnxRuntime} or later, this is {onnxRuntimeVersion}");
        }

        return problems.Count > 0
            ? PackageCheck.Fail("runtime", UpdateFailure.RuntimeIncompatible, string.Join("; ", problems) + "; update the device first")
            : PackageCheck.Pass("runtime", $"Kairo {kairoVersion} >= {manifest.MinKairoVersion}, ONNX Runtime {onnxRuntimeVersion} >= {manifest.Runtime.OnnxRuntime}");
    }

    /// <summary>
    /// Fails unless the manifest's inputs and outputs fit <paramref name="loop"/>: the same names, types and ranks, with
    /// every fixed dimension equal (a dimension the model leaves open fits the loop's). Inputs the loop feeds from
    /// state count as inputs.
    /// </summary>
    public static PackageCheck CheckLoop(PackageManifest manifest, LoopLayout loop)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(loop);
        var problems = new List<string>();
        Compare(manifest.Signature.Inputs, [.. loop.Input.Slots, .. loop.State.Slots], "input", problems);
        Compare(manifest.Signature.Outputs, [.. loop.Output.Slots], "output", problems);
        return problems.Count > 0
            ? PackageCheck.Fail("loop", UpdateFailure.SignatureMismatch, $"the model does not fit the loop: {string.Join("; ", problems)}")
            : PackageCheck.Pass("loop", "the model's inputs and outputs fit the loop");
    }

    private static void Compare(IReadOnlyList<string> lines, IReadOnlyList<TensorSlot> slots, string role, List<string> problems)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            TensorSignature tensor = TensorSignature.TryParse(line)!; // the manifest parsed, so every line does
            seen.Add(tensor.Name);
            TensorSlot? slot = slots.FirstOrDefault(s => s.Name == tensor.Name);
            if (slot is null)
            {
                problems.Add($"the loop has no {role} '{tensor.Name}' ({line})");
            }
            else if (!tensor.Fits(slot))
            {
                problems.Add($"{role} {line} does not fit the loop's {slot}");
            }
        }

        foreach (TensorSlot slot in slots.Where(s => !seen.Contains(s.Name)))
        {
            problems.Add($"the loop's {role} {slot} is not among the model's");
        }
    }

    private static string Differences(ModelSignature actual, ModelSignature manifest)
    {
        var parts = new List<string>();
        if (!actual.Inputs.SequenceEqual(manifest.Inputs, StringComparer.Ordinal))
        {
            parts.Add($"inputs are {string.Join(", ", actual.Inputs)} but the manifest lists {string.Join(", ", manifest.Inputs)}");
        }

        if (!actual.Outputs.SequenceEqual(manifest.Outputs, StringComparer.Ordinal))
        {
            parts.Add($"outputs are {string.Join(", ", actual.Outputs)} but the manifest lists {string.Join(", ", manifest.Outputs)}");
        }

        return string.Join("; ", parts);
    }
}
