using System.Text;
using Kairo.Control.Plane;

namespace Kairo.Control.Tests;

/// <summary>The per-thread buffer replies, telemetry and events are written into.</summary>
public sealed class JsonScratchTests
{
    [Fact]
    public void ARentWhileTheThreadsBufferIsInUseGetsAnotherOne_AndAReturnedOneStartsEmpty()
    {
        var outer = JsonScratch.Rent();
        outer.Writer.WriteStartArray();
        outer.Writer.WriteNumberValue(1);

        // What a data writer does when it builds a node on the way (Json.Node rents too).
        var inner = JsonScratch.Rent();
        Assert.NotSame(outer, inner);
        inner.Writer.WriteStringValue("inner");
        Assert.Equal("\"inner\"", Encoding.UTF8.GetString(inner.Written));
        inner.Return();

        outer.Writer.WriteEndArray();
        Assert.Equal("[1]", Encoding.UTF8.GetString(outer.Written));
        outer.Return();

        var again = JsonScratch.Rent();
        Assert.Same(outer, again); // the thread keeps the last one returned
        Assert.Equal(0, again.Written.Length);
        again.Return();
    }

    [Fact]
    public void NodeAndUtf8WriteWhatTheWriterWrites_WithoutEscapingWhatJsonAllows()
    {
        var node = Json.Node(w =>
        {
            w.WriteStartObject();
            w.WriteString("topic"u8, "kairo/dev-1/cmd/<status> & 'more' ü");
            w.WriteEndObject();
        });
        Assert.Equal("""{"topic":"kairo/dev-1/cmd/<status> & 'more' ü"}""", Encoding.UTF8.GetString(Json.Utf8(node)));
        Assert.Equal(Json.Write(node), Encoding.UTF8.GetString(Json.Utf8(node)));
    }
}
