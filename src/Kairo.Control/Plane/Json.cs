using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kairo.Control.Plane;

/// <summary>
/// How the control plane writes JSON: compact, and without escaping what JSON does not require escaped. Replies,
/// telemetry and events are written straight into a buffer each thread keeps (<see cref="JsonScratch"/>), so a
/// request costs the collector little more than what its handler builds.
/// </summary>
public static class Json
{
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(JsonNode node) => node.ToJsonString(Relaxed);

    public static byte[] Utf8(JsonNode node)
    {
        var scratch = JsonScratch.Rent();
        try
        {
            node.WriteTo(scratch.Writer);
            return scratch.Written.ToArray();
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>What <paramref name="write"/> writes, as a node: for the few places that need a tree (the birth).</summary>
    public static JsonNode Node(Action<Utf8JsonWriter> write)
    {
        var scratch = JsonScratch.Rent();
        try
        {
            write(scratch.Writer);
            return JsonNode.Parse(scratch.Written)!;
        }
        finally
        {
            scratch.Return();
        }
    }

    /// <summary>As <see cref="Node"/>, for a writer of one object.</summary>
    public static JsonObject Object(Action<Utf8JsonWriter> write) => Node(write).AsObject();
}

/// <summary>
/// A UTF-8 buffer and a JSON writer over it, one kept per thread and reused. Renting takes the thread's one, so a
/// writer that rents again while its own is in use gets a new one instead of writing into the same buffer.
/// </summary>
public sealed class JsonScratch
{
    private const int KeptCapacity = 64 * 1024;

    [ThreadStatic]
    private static JsonScratch? t_kept;

    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    private JsonScratch()
    {
        Writer = new Utf8JsonWriter(_buffer, Json.WriterOptions);
    }

    public Utf8JsonWriter Writer { get; }

    /// <summary>The bytes written so far (flushes the writer).</summary>
    public ReadOnlySpan<byte> Written
    {
        get
        {
            Writer.Flush();
            return _buffer.WrittenSpan;
        }
    }

    public static JsonScratch Rent()
    {
        var scratch = t_kept ?? new JsonScratch();
        t_kept = null;
        scratch._buffer.ResetWrittenCount();
        scratch.Writer.Reset(scratch._buffer);
        return scratch;
    }

    /// <summary>Gives it back to the thread; one that grew past 64 KiB is left to the collector.</summary>
    public void Return()
    {
        if (_buffer.Capacity <= KeptCapacity)
        {
            t_kept = this;
        }
    }
}
