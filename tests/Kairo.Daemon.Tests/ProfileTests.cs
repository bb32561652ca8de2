using System.Text;
using Kairo.Daemon.Config;
using Kairo.Updates.Signing;

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
    [InlineData("{ \"models\"", "{ \"mqtt\": { \"broker\": \"mqtt://127.0.0.1:1883\", \"keepAliveSeconds\": 7.5 }, \"models\"", "$.mqtt.keepAliveSeconds: 7.5 is not a whole number of seconds from 5 to 3600")]
    [InlineData("\"path\": \"models/scale_add_v1.onnx\"", "\"path\": \"\"", "$.models[0].path: missing; give the .onnx file, relative to the profile's directory")]
    public void SemanticErrorsNameThePathValueAndFix(string find, string replace, string expected)
    {
        var errors = Errors(ValidLoop.Replace(find, replace));
        Assert.Contains(expected, errors);
    }

    private static string WithUpdates(string updates) => ValidLoop.Replace("{ \"models\"", $"{{ \"updates\": {updates}, \"models\"");

    [Fact]
    public void AnUpdatesSectionParses()
    {
        var updates = Parse(WithUpdates("""
            { "trustedKeys": ["keys/a.pub", "keys/b.pub"], "threshold": 2, "keepVersions": 0, "healthWindowSeconds": 0.1, "maxMissRatio": 0,
              "download": { "attempts": 100, "minBytesPerSecond": 0, "throughputWindowSeconds": 3600, "connectTimeoutSeconds": 600, "reserveMegabytes": 0, "caFile": "ca.pem" } }
            """)).Profile.Updates!;
        Assert.Equal(["keys/a.pub", "keys/b.pub"], updates.TrustedKeys);
        Assert.Equal(2, updates.Threshold);
        Assert.Equal(0.1, updates.HealthWindowSeconds);
        Assert.Equal(100, updates.Download!.Attempts);
        Assert.Equal("ca.pem", updates.Download.CaFile);

        // Without keys updates are off, and a threshold alone is no error.
        Assert.Null(Parse(WithUpdates("""{ "threshold": 1 }""")).Profile.Updates!.TrustedKeys);
    }

    [Theory]
    [InlineData("""{ "trustedKeys": ["keys/a.pub", ""] }""", "$.updates.trustedKeys[1]: empty; give a public key file (PEM, from kairoctl keygen), relative to the profile")]
    [InlineData("""{ "trustedKeys": ["keys/a.pub", "keys/b.pub"], "threshold": 3 }""", "$.updates.threshold: 3 is out of range; expected 1 to the 2 trusted keys")]
    [InlineData("""{ "trustedKeys": ["keys/a.pub"], "threshold": 0 }""", "$.updates.threshold: 0 is out of range; expected 1 to the 1 trusted keys")]
    [InlineData("""{ "keepVersions": 101 }""", "$.updates.keepVersions: 101 is out of range; expected 0 to 100 (older versions kept besides the active one and the rollback target)")]
    [InlineData("""{ "keepVersions": -1 }""", "$.updates.keepVersions: -1 is out of range; expected 0 to 100 (older versions kept besides the active one and the rollback target)")]
    [InlineData("""{ "healthWindowSeconds": 0.05 }""", "$.updates.healthWindowSeconds: 0.05 is out of range; expected 0.1 to 3600 seconds")]
    [InlineData("""{ "healthWindowSeconds": 3601 }""", "$.updates.healthWindowSeconds: 3601 is out of range; expected 0.1 to 3600 seconds")]
    [InlineData("""{ "maxMissRatio": 1.5 }""", "$.updates.maxMissRatio: 1.5 is out of range; expected 0 (no miss allowed) to 1")]
    [InlineData("""{ "maxMissRatio": -0.1 }""", "$.updates.maxMissRatio: -0.1 is out of range; expected 0 (no miss allowed) to 1")]
    [InlineData("""{ "download": { "attempts": 0 } }""", "$.updates.download.attempts: 0 is out of range; expected 1 to 100 (attempts)")]
    [InlineData("""{ "download": { "attempts": 101 } }""", "$.updates.download.attempts: 101 is out of range; expected 1 to 100 (attempts)")]
    [InlineData("""{ "download": { "minBytesPerSecond": -1 } }""", "$.updates.download.minBytesPerSecond: -1 is negative; expected 0 (no minimum) or more bytes per second")]
    [InlineData("""{ "download": { "throughputWindowSeconds": 0.5 } }""", "$.updates.download.throughputWindowSeconds: 0.5 is out of range; expected 1 to 3600 seconds")]
    [InlineData("""{ "download": { "connectTimeoutSeconds": 601 } }""", "$.updates.download.connectTimeoutSeconds: 601 is out of range; expected 1 to 600 seconds")]
    [InlineData("""{ "download": { "reserveMegabytes": -1 } }""", "$.updates.download.reserveMegabytes: -1 is out of range; expected 0 to 1048576 MiB (1 TiB)")]
    [InlineData("""{ "download": { "reserveMegabytes": 1048577 } }""", "$.updates.download.reserveMegabytes: 1048577 is out of range; expected 0 to 1048576 MiB (1 TiB)")]
    public void UpdatesErrorsNameThePathValueAndRange(string updates, string expected)
    {
        Assert.Equal([expected], Errors(WithUpdates(updates)));
    }

    [Fact]
    public void UpdatesSyntaxAndTypeErrorsNameThePath()
    {
        var unknown = Assert.Single(Errors(WithUpdates("""{ "trustedKey": ["keys/a.pub"] }""")));
        Assert.StartsWith("$.updates.trustedKey", unknown);
        Assert.Contains("unknown property 'trustedKey'", unknown);

        var unknownDownload = Assert.Single(Errors(WithUpdates("""{ "download": { "retries": 3 } }""")));
        Assert.StartsWith("$.updates.download.retries", unknownDownload);
        Assert.Contains("unknown property 'retries'", unknownDownload);

        var wrongType = Assert.Single(Errors(WithUpdates("""{ "threshold": "two" }""")));
        Assert.StartsWith("$.updates.threshold", wrongType);
        Assert.Contains("expected an integer", wrongType);

        var notAList = Assert.Single(Errors(WithUpdates("""{ "trustedKeys": "keys/a.pub" }""")));
        Assert.StartsWith("$.updates.trustedKeys", notAList);
        Assert.Contains("expected an array", notAList);
    }

    [Fact]
    public void EveryUpdatesProblemIsReportedAtOnce()
    {
        var errors = Errors(WithUpdates("""
            { "trustedKeys": ["k.pub"], "threshold": 2, "keepVersions": 500, "healthWindowSeconds": 0, "maxMissRatio": 2,
              "download": { "attempts": 0, "minBytesPerSecond": -5, "throughputWindowSeconds": 0, "connectTimeoutSeconds": 0, "reserveMegabytes": -1 } }
            """));
        string[] paths =
        [
            "$.updates.threshold", "$.updates.keepVersions", "$.updates.healthWindowSeconds", "$.updates.maxMissRatio",
            "$.updates.download.attempts", "$.updates.download.minBytesPerSecond", "$.updates.download.throughputWindowSeconds",
            "$.updates.download.connectTimeoutSeconds", "$.updates.download.reserveMegabytes",
        ];
        Assert.Equal(paths, errors.Select(e => e[..e.IndexOf(':')]));
    }

    [Fact]
    public void EveryBoardProfileTrustsKeysThatLoadAndReachItsThreshold()
    {
        foreach (string file in Directory.GetFiles(Path.Combine(ProfileSchemaTests.Root, "firmware-config"), "*.json"))
        {
            var loaded = ProfileLoader.LoadFile(file);
            var keys = loaded.Profile.Updates?.TrustedKeys;
            Assert.True(keys is { Count: > 0 }, $"{file}: no updates.trustedKeys");

            // Distinct keys: the device counts a key listed twice once, and refuses to start below its threshold.
            var ids = keys.Select(k => TrustedKey.Load(Path.GetFullPath(k, loaded.BaseDirectory)).KeyId).ToHashSet();
            Assert.True(ids.Count == keys.Count, $"{file}: a trusted key is listed twice");
            Assert.InRange(loaded.Profile.Updates!.Threshold ?? 1, 1, ids.Count);
        }
    }

    [Fact]
    public void TheBoardProfilesTrustNoKeyWhosePrivateHalfIsShipped()
    {
        foreach (string file in Directory.GetFiles(Path.Combine(ProfileSchemaTests.Root, "firmware-config"), "*.json"))
        {
            if (Path.GetFileName(file) == "demo.json")
            {
                continue; // the demo signs its own update with a key that is public on purpose
            }

            var loaded = ProfileLoader.LoadFile(file);
            foreach (string key in loaded.Profile.Updates?.TrustedKeys ?? [])
            {
                string path = Path.GetFullPath(key, loaded.BaseDirectory);
                Assert.False(File.Exists(Path.ChangeExtension(path, ".key")), $"{file} trusts {key}, whose private key is shipped beside it");
                Assert.DoesNotContain("PRIVATE KEY", File.ReadAllText(path));
            }
        }
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
