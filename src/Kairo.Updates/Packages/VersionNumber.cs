using System.Globalization;

namespace Kairo.Updates.Packages;

/// <summary>
/// A release version as manifests give them: <c>MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]</c>, missing parts 0.
/// Ordered by semantic-versioning precedence: a pre-release sorts before its release, build metadata is ignored.
/// </summary>
internal readonly record struct VersionNumber(long Major, long Minor, long Patch, string Prerelease) : IComparable<VersionNumber>
{
    public static VersionNumber? TryParse(string? text)
    {
        if (string.IsNullOrEmpty(text) || text.Length > 64)
        {
            return null;
        }

        string core = text;
        int plus = core.IndexOf('+');
        if (plus >= 0)
        {
            if (!IsIdentifierList(core[(plus + 1)..]))
            {
                return null;
            }

            core = core[..plus];
        }

        string prerelease = "";
        int dash = core.IndexOf('-');
        if (dash >= 0)
        {
            prerelease = core[(dash + 1)..];
            if (!IsIdentifierList(prerelease))
            {
                return null;
            }

            core = core[..dash];
        }

        string[] parts = core.Split('.');
        if (parts.Length > 3)
        {
            return null;
        }

        var numbers = new long[3];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]) || (parts[i].Length > 1 && parts[i][0] == '0'))
            {
                return null;
            }
        }

        return new VersionNumber(numbers[0], numbers[1], numbers[2], prerelease);
    }

    public int CompareTo(VersionNumber other)
    {
        int order = Major.CompareTo(other.Major);
        order = order != 0 ? order : Minor.CompareTo(other.Minor);
        order = order != 0 ? order : Patch.CompareTo(other.Patch);
        if (order != 0 || Prerelease == other.Prerelease)
        {
            return order;
        }

        if (Prerelease.Length == 0 || other.Prerelease.Length == 0)
        {
            return Prerelease.Length == 0 ? 1 : -1;
        }

        string[] mine = Prerelease.Split('.');
        string[] theirs = other.Prerelease.Split('.');
        for (int i = 0; i < Math.Min(mine.Length, theirs.Length); i++)
        {
            bool myNumber = long.TryParse(mine[i], NumberStyles.None, CultureInfo.InvariantCulture, out long a);
            bool theirNumber = long.TryParse(theirs[i], NumberStyles.None, CultureInfo.InvariantCulture, out long b);
            order = (myNumber, theirNumber) switch
            {
                (true, true) => a.CompareTo(b),
                (true, false) => -1,
                (false, true) => 1,
                _ => string.CompareOrdinal(mine[i], theirs[i]),
            };
            if (order != 0)
            {
                return order;
            }
        }

        return mine.Length.CompareTo(theirs.Length);
    }

    public static bool operator <(VersionNumber left, VersionNumber right) => left.CompareTo(right) < 0;

    public static bool operator >(VersionNumber left, VersionNumber right) => left.CompareTo(right) > 0;

    public static bool operator <=(VersionNumber left, VersionNumber right) => left.CompareTo(right) <= 0;

    public static bool operator >=(VersionNumber left, VersionNumber right) => left.CompareTo(right) >= 0;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}") + (Prerelease.Length > 0 ? "-" + Prerelease : "");

    private static bool IsIdentifierList(string text) =>
        text.Length > 0 && text.Split('.').All(id => id.Length > 0 && id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
}
