using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kairo.Updates.Device;

// The HTTP stack: SocketsHttpHandler, and with DownloadOptions.CaFile a TLS trust of those CAs only.
public sealed partial class PackageDownloader
{
    /// <summary>id-kp-serverAuth: a CA's certificate for mail or code signing must not vouch for an update server.</summary>
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    private static SocketsHttpHandler CreateHandler(DownloadOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            // The archive's bytes are signed as they are; a transparently decompressed body would only hide what came.
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = options.ConnectTimeout,
            MaxAutomaticRedirections = 5,
        };

        if (options.CaFile is { } caFile)
        {
            X509Certificate2Collection authorities = LoadAuthorities(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => IsTrusted(authorities, certificate, chain, errors);
        }

        return handler;
    }

    private static X509Certificate2Collection LoadAuthorities(string caFile)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ArgumentException($"DownloadOptions.CaFile ('{caFile}') cannot be read as PEM certificates: {ex.Message}; give a readable PEM file of the CA certificates the update server's certificate chains to", ex);
        }

        if (authorities.Count == 0)
        {
            throw new ArgumentException($"DownloadOptions.CaFile ('{caFile}') holds no -----BEGIN CERTIFICATE----- block; give a PEM file of the CA certificates the update server's certificate chains to");
        }

        return authorities;
    }

    /// <summary>
    /// Trusts a server certificate that chains to one of <paramref name="authorities"/> and names the host. The
    /// system's chain is ignored for trust (it knows the system's roots only) but its host-name verdict stands.
    /// </summary>
    private static bool IsTrusted(X509Certificate2Collection authorities, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);

        // A device's private CA seldom publishes revocation lists the device could reach; a revocation check that can
        // only fail would refuse every update. Trust is narrowed to the given CAs instead.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuthentication));
        if (presented is not null)
        {
            // The intermediates the server sent.
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (X509ChainElement element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        X509Certificate2 leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
