using System.Diagnostics;

namespace Kairo.Testing;

/// <summary>
/// A throw-away PKI made with openssl once per test process: a CA; a broker certificate for 127.0.0.1 and localhost;
/// a broker certificate for another host name, to prove host name verification; a client certificate.
/// </summary>
public sealed class TestCertificates
{
    private static readonly Lazy<TestCertificates> s_shared = new(() => new TestCertificates());

    private TestCertificates()
    {
        Directory = Path.Combine(Path.GetTempPath(), $"kairo-mqtt-pki-{Environment.ProcessId}");
        System.IO.Directory.CreateDirectory(Directory);
        OpenSsl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", CaKey, "-out", CaFile, "-days", "2", "-subj", "/CN=Kairo Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        Issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth");
        Issue("wrong-host", "/CN=broker.elsewhere.example", "subjectAltName=DNS:broker.elsewhere.example\nextendedKeyUsage=serverAuth");
        Issue("client", "/CN=kairo-test-client", "extendedKeyUsage=clientAuth");
    }

    public static TestCertificates Shared => s_shared.Value;

    public string Directory { get; }

    public string CaFile => Path.Combine(Directory, "ca.crt");

    private string CaKey => Path.Combine(Directory, "ca.key");

    public string CertFile(string name) => Path.Combine(Directory, name + ".crt");

    public string KeyFile(string name) => Path.Combine(Directory, name + ".key");

    private void Issue(string name, string subject, string extensions)
    {
        string csr = Path.Combine(Directory, name + ".csr");
        string ext = Path.Combine(Directory, name + ".ext");
        File.WriteAllText(ext, "basicConstraints=CA:FALSE\n" + extensions + "\n");
        OpenSsl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", KeyFile(name), "-out", csr, "-subj", subject);
        OpenSsl("x509", "-req", "-in", csr, "-CA", CaFile, "-CAkey", CaKey, "-CAcreateserial",
            "-out", CertFile(name), "-days", "2", "-extfile", ext);
    }

    private static void OpenSsl(params string[] arguments)
    {
        (int exitCode, string output) = Tool.Run("openssl", arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', arguments)} failed ({exitCode}):\n{output}");
        }
    }
}

/// <summary>Runs a command-line tool to completion.</summary>
public static class Tool
{
    public static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within 30 s");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
