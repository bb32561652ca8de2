using System.Text;
using Kairo.Onnx.TestData;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Tests;

/// <summary>manifest.json: what reads, what is refused and why, and that what Kairo writes reads back the same.</summary>
public sealed class ManifestTests
{
    private const string Sha = "36422b37c73ce3ebbb2c3c83121891156ac9605fcd2e820525177c7ce00040b3";

    private static PackageManifest Sample() => new()
    {
        Model = "pilotnet",
        Version = 3,
        Release = "2025.06-rc1",
        CompatibleBoards = ["rk3588-carrier", "jetson-orin"],
        MinKairoVersion = "0.1.0",
        Runtime = new RuntimeRequirement("1.20.0"),
        Signature = new ModelSignature(["camera: float[1,3,66,200]"], ["controls: float[1,2]"]),
        Tolerance = new Tolerance(1e-4, 1e-3),
        LatencyBudgetMs = 12.5,
        Expires = new DateTimeOffset(2026, 1, 31, 0, 0, 0, TimeSpan.Zero),
        Created = new DateTimeOffset(2025, 6, 1, 12, 30, 0, TimeSpan.Zero),
        Files = [new PackageFile("model.onnx", Sha, 578), new PackageFile("test_data_set_0/input_0.pb", Sha, 27)],
    };

    private static string Json() => Encoding.UTF8.GetString(Sample().ToUtf8Json());

    private static UpdateException Refused(string json)
    {
        var ex = Assert.Throws<UpdateException>(() => PackageManifest.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(UpdateFailure.ManifestInvalid, ex.Failure);
        Assert.Equal("manifest_invalid", ex.Code);
        Assert.StartsWith("manifest.json: ", ex.Message);
        return ex;
    }

    [Fact]
    public void WhatIsWrittenReadsBackTheSame()
    {
        PackageManifest sample = Sample();

        PackageManifest read = PackageManifest.Parse(sample.ToUtf8Json());

        Assert.Equal(sample.Model, read.Model);
        Assert.Equal(sample.Version, read.Version);
        Assert.Equal(sample.CompatibleBoards, read.CompatibleBoards);
        Assert.Equal(sample.Signature, read.Signature);
        Assert.Equal(sample.Tolerance, read.Tolerance);
        Assert.Equal(sample.LatencyBudgetMs, read.LatencyBudgetMs);
        Assert.Equal(sample.Expires, read.Expires);
        Assert.Equal(sample.Created, read.Created);
        Assert.Equal(sample.Files, read.Files);
        Assert.Equal(sample.ToUtf8Json(), read.ToUtf8Json());
    }

    [Fact]
    public void TheDocumentIsCamelCaseWithUtcTimes()
    {
        string json = Json();

        Assert.Contains("\"schema\": 1,", json);
        Assert.Contains("\"compatibleBoards\": [", json);
        Assert.Contains("\"minKairoVersion\": \"0.1.0\"", json);
        Assert.Contains("\"runtime\": {\n    \"onnxRuntime\": \"1.20.0\"\n  }", json);
        Assert.Contains("\"latencyBudgetMs\": 12.5", json);
        Assert.Contains("\"expires\": \"2026-01-31T00:00:00Z\"", json);
        Assert.Contains("\"camera: float[1,3,66,200]\"", json);
        Assert.EndsWith("}\n", json);
    }

    [Theory]
    [InlineData("../x", "may not leave")]
    [InlineData("test_data_set_0/../../x", "may not leave")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("test_data_set_0\\\\input_0.pb", "backslash")]
    [InlineData("test_data_set_0//input_0.pb", "empty segment")]
    [InlineData("./model.onnx", "may not leave or name its own directory")]
    [InlineData(".hidden", "starts with a dot")]
    [InlineData("signatures.json", "own metadata")]
    [InlineData("a b.pb", "A-Z a-z 0-9")]
    public void ListedPathsThatLeaveOrHideAreRefused(string path, string reason)
    {
        string json = Json().Replace("\"path\": \"test_data_set_0/input_0.pb\"", $"\"path\": \"{path}\"", StringComparison.Ordinal);

        UpdateException ex = Refused(json);

        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void APathListedTwiceIsRefusedEvenInAnotherCase()
    {
        Refused(Json().Replace("\"path\": \"test_data_set_0/input_0.pb\"", "\"path\": \"model.onnx\"", StringComparison.Ordinal));
        UpdateException ex = Refused(Json().Replace("\"path\": \"test_data_set_0/input_0.pb\"", "\"path\": \"MODEL.onnx\"", StringComparison.Ordinal));
        Assert.Contains("listed twice", ex.Message);
    }

    [Fact]
    public void APathUsedAsFileAndDirectoryIsRefused()
    {
        UpdateException ex = Refused(Json().Replace("\"path\": \"test_data_set_0/input_0.pb\"", "\"path\": \"model.onnx/x.pb\"", StringComparison.Ordinal));

        Assert.Contains("both as a file and as a directory", ex.Message);
    }

    [Fact]
    public void AMemberGivenTwiceIsRefused()
    {
        // Two parsers keeping different copies would read one signed document two ways.
        UpdateException ex = Refused(Json().Replace("\"version\": 3,", "\"version\": 3,\n  \"version\": 4,", StringComparison.Ordinal));

        Assert.Contains("names member \"version\" twice", ex.Message);
    }

    [Fact]
    public void AnUnknownMemberIsRefused()
    {
        UpdateException ex = Refused(Json().Replace("\"version\": 3,", "\"version\": 3,\n  \"verison\": 4,", StringComparison.Ordinal));

        Assert.Contains("$.verison", ex.Message);
    }

    [Theory]
    [InlineData("\"version\": 3,", "\"version\": 0,", "\"version\" is 0")]
    [InlineData("\"version\": 3,", "\"version\": \"3\",", "$.version")]
    [InlineData("\"version\": 3,", "", "\"version\" is missing")]
    [InlineData("\"schema\": 1,", "\"schema\": 2,", "newer than the 1 this Kairo reads")]
    [InlineData("\"model\": \"pilotnet\"", "\"model\": \"../pilotnet\"", "a model name is")]
    [InlineData("\"latencyBudgetMs\": 12.5", "\"latencyBudgetMs\": 0", "\"latencyBudgetMs\" is 0")]
    [InlineData("\"minKairoVersion\": \"0.1.0\"", "\"minKairoVersion\": \"soon\"", "\"minKairoVersion\" is \"soon\"")]
    [InlineData("\"expires\": \"2026-01-31T00:00:00Z\"", "\"expires\": \"2026-01-31\"", "ISO-8601 UTC")]
    [InlineData("\"expires\": \"2026-01-31T00:00:00Z\"", "\"expires\": \"2025-01-31T00:00:00Z\"", "is not after \"created\"")]
    [InlineData("\"rk3588-carrier\",", "\"*\",", "stands alone")]
    [InlineData("\"camera: float[1,3,66,200]\"", "\"camera float[1,3,66,200]\"", "NAME: TYPE[DIMS]")]
    [InlineData("\"length\": 578", "\"length\": -1", "is negative")]
    [InlineData("\"sha256\": \"36422b37", "\"sha256\": \"36422B37", "64 lowercase hex")]
    public void EachBrokenRuleNamesItsField(string from, string to, string expected)
    {
        string json = Json();
        Assert.Contains(from, json);

        UpdateException ex = Refused(json.Replace(from, to, StringComparison.Ordinal));

        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void AManifestWithoutTheModelIsRefused()
    {
        string json = Json().Replace("\"path\": \"model.onnx\"", "\"path\": \"weights.onnx\"", StringComparison.Ordinal);

        Assert.Contains("does not list model.onnx", Refused(json).Message);
    }

    [Fact]
    public void NotJsonIsRefusedWithItsPosition()
    {
        Assert.Contains("line 1", Refused("{ \"schema\": 1, }").Message);
        Assert.Contains("null", Refused("null").Message);
    }

    [Fact]
    public void WritingRefusesWhatCouldNotBeRead()
    {
        var ex = Assert.Throws<UpdateException>(() => (Sample() with { Version = 0 }).ToUtf8Json());

        Assert.Equal(UpdateFailure.ManifestInvalid, ex.Failure);
    }

    [Fact]
    public void EveryFailureHasAStableCode()
    {
        foreach (UpdateFailure failure in Enum.GetValues<UpdateFailure>())
        {
            string code = failure.ToCode();
            Assert.Matches("^[a-z]+(_[a-z]+)*$", code);
            Assert.True(UpdateFailures.TryParse(code, out UpdateFailure parsed));
            Assert.Equal(failure, parsed);
        }

        Assert.Equal("signature_threshold", UpdateFailure.SignatureThreshold.ToCode());
        Assert.Equal("file_unlisted", UpdateFailure.FileUnlisted.ToCode());
        Assert.False(UpdateFailures.TryParse("download", out _));
    }

    [Theory]
    [InlineData("1.20.0", "1.20.0", 0)]
    [InlineData("1.20", "1.20.0", 0)]
    [InlineData("1.9.0", "1.10.0", -1)]
    [InlineData("0.2.0-rc.1", "0.2.0", -1)]
    [InlineData("0.2.0-rc.2", "0.2.0-rc.10", -1)]
    [InlineData("0.2.0-beta", "0.2.0-alpha", 1)]
    [InlineData("0.1.0+abc", "0.1.0", 0)]
    public void VersionsCompareBySemanticPrecedence(string left, string right, int order)
    {
        Assert.Equal(order, Math.Sign(VersionNumber.TryParse(left)!.Value.CompareTo(VersionNumber.TryParse(right)!.Value)));
    }
}
