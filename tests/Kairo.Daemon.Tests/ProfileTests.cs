using System.Text;
using Kairo.Daemon.Config;

namespace Kairo.Daemon.Tests;

public sealed class ProfileTests
{
    private static LoadedProfile Parse(string json) => ProfileLoader.Parse(Encoding.UTF8.GetBytes(json), "test.json", "/tmp");

    private static IReadOnlyList<string> Errors(string json) => Assert.Throws<ProfileException>(() => Parse(json)).Errors;

    private const string ValidLoop = """
        { "models": [ { "name": "m", "path": "models/scale_add_v1.onnx" } ],
          "loops": [ { "name": "l", "model": "m", "rateHz": 100, "source": { "type": "synthetic" }, "sinks": [ { "type": "log" } ] } ] }
        """;

    [Fact]
    public void EmbeddedDemoProfileIsValid()
    {
        var demo = ProfileLoader.LoadEmbedded();
        Assert.Equal(ProfileLoader.EmbeddedName, demo.Source);
        Assert.Equal(["drive", "arm"], demo.Profile.Loops!.Select(l => l.Name));
        Assert.Equal(30, demo.Profile.Loops![0].RateHz);
        Assert.Equal(500, demo.Profile.Loops![1].RateHz);
    }

    [Fact]
    public void AValidProfileParses()
    {
        var loaded = Parse(ValidLoop);
        Assert.Equal("m", loaded.Profile.Loops![0].Model);
    }

    [Fact]
    public void SyntaxAndTypeErrorsNameThePathAndTheExpectation()
    {
        var wrongType = Assert.Single(Errors("""{ "loops": [ { "name": "l", "rateHz": "fast" } ] }"""));
        Assert.StartsWith("$.loops[0].rateHz", wrongType);
        Assert.Contains("expected a number", wrongType);

        var unknown = Assert.Single(Errors("""{ "loops": [ { "name": "l", "rate": 10 } ] }"""));
        Assert.Contains("unknown property 'rate'", unknown);

        var broken = Assert.Single(Errors("""{ "loops": [ """));
        Assert.StartsWith("$", broken);
    }

    [Theory]
    [InlineData("\"rateHz\": 100", "\"rateHz\": 5000", "$.loops[0].rateHz: 5000 is out of range; expected 1 to 1000 Hz")]
    [InlineData("\"model\": \"m\"", "\"model\": \"nope\"", "$.loops[0].model: 'nope' is not a model of this profile (models: m)")]
    [InlineData("\"type\": \"synthetic\"", "\"type\": \"camera\"", "$.loops[0].source.type: 'camera' is not allowed; expected one of synthetic, udp, unix, ring, replay")]
    [InlineData("\"type\": \"log\"", "\"type\": \"udp\", \"address\": \"localhost\"", "$.loops[0].sinks[0].address: 'localhost' is not an address; expected IP:PORT such as 127.0.0.1:9000 or [::1]:9000")]
    [InlineData("\"rateHz\": 100", "\"rateHz\": 100, \"deadlineMs\": 20", "$.loops[0].deadlineMs: 20 ms does not fit the period; expected above 0 and at most 10 ms at 100 Hz")]
    [InlineData("\"rateHz\": 100", "\"rateHz\": 100, \"priority\": 120", "$.loops[0].priority: 120 is out of range; expected 1 to 99 (SCHED_FIFO priorities)")]
    [InlineData("\"rateHz\": 100", "\"rateHz\": 100, \"missPolicy\": \"panic\"", "$.loops[0].missPolicy: 'panic' is not allowed; expected one of skip, hold, safe")]
    [InlineData("\"path\": \"models/scale_add_v1.onnx\"", "\"path\": \"\"", "$.models[0].path: missing; give the .onnx file, relative to the profile's directory")]
    public void SemanticErrorsNameThePathValueAndFix(string find, string replace, string expected)
    {
        var errors = Errors(ValidLoop.Replace(find, replace));
        Assert.Contains(expected, errors);
    }

    [Fact]
    public void EveryProblemIsReportedAtOnce()
    {
        var errors = Errors("""{ "models": [ { "name": "m" }, { "name": "m", "path": "x.onnx" } ], "loops": [ { "model": "m" } ] }""");
        Assert.Contains(errors, e => e.StartsWith("$.models[0].path: missing"));
        Assert.Contains(errors, e => e.StartsWith("$.models[1].name: 'm' is used by an earlier model"));
        Assert.Contains(errors, e => e.StartsWith("$.loops[0].name: missing"));
        Assert.Contains(errors, e => e.StartsWith("$.loops[0].rateHz: missing"));
        Assert.Contains(errors, e => e.StartsWith("$.loops[0].source: missing"));
    }
}
