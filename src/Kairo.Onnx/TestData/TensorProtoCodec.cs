namespace Kairo.Onnx.TestData;

/// <summary>
/// Reads and writes serialized <c>onnx.TensorProto</c> messages, the format of the <c>input_N.pb</c> and
/// <c>output_N.pb</c> files in ONNX test-data sets. Tensors whose data lives in external files are not supported.
/// </summary>
public static partial class TensorProtoCodec
{
    /// <summary>Reads and decodes one <c>.pb</c> file; a decoding error names the file.</summary>
    public static TensorData ReadFile(string path)
    {
        byte[] message = File.ReadAllBytes(path);
        try
        {
            return Decode(message);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Encodes a tensor and writes it to <paramref name="path"/>. The bytes go to a temporary file in the same
    /// directory that is then renamed over the target, so a reader sees the old file or the new one, never half.
    /// </summary>
    public static void WriteFile(string path, TensorData tensor, TensorProtoLayout layout = TensorProtoLayout.RawData)
    {
        byte[] message = Encode(tensor, layout);
        string target = Path.GetFullPath(path);
        string temporary = $"{target}.{Path.GetRandomFileName()}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(message);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            DeleteQuietly(temporary);
            throw;
        }
    }

    // Cleanup after a failed write must not hide the error that caused it.
    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
