namespace Kairo.Onnx.TestData;

public sealed partial class TestCaseRunner
{
    public const string ModelFileName = "model.onnx";
    private const string DataSetPrefix = "test_data_set_";

    /// <summary>
    /// The test cases at or under <paramref name="directory"/>, sorted by name. A directory holding
    /// <c>model.onnx</c> is one case; any other directory is searched recursively.
    /// </summary>
    /// <param name="namesRelativeTo">
    /// The directory case names are relative to. By default the parent of <paramref name="directory"/>, so that
    /// <c>.../data/node</c> gives names like <c>node/test_abs</c> and a case directory given on its own keeps its name.
    /// </param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    public static IReadOnlyList<TestCase> FindCases(string directory, string? namesRelativeTo = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"no such directory: {directory}");
        }

        string nameBase = namesRelativeTo is null
            ? Path.GetDirectoryName(root) ?? root
            : Path.TrimEndingDirectorySeparator(Path.GetFullPath(namesRelativeTo));
        var cases = new List<TestCase>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        Collect(root, nameBase, cases, visited);
        cases.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return cases;
    }

    private static void Collect(string directory, string nameBase, List<TestCase> cases, HashSet<string> visited)
    {
        if (File.Exists(Path.Combine(directory, ModelFileName)))
        {
            string name = Path.GetRelativePath(nameBase, directory).Replace(Path.DirectorySeparatorChar, '/');
            cases.Add(new TestCase(name == "." ? Path.GetFileName(directory) : name, directory));
            return;
        }

        // A symbolic link back up the tree would otherwise be followed forever.
        string real = new DirectoryInfo(directory).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? directory;
        if (!visited.Add(real))
        {
            return;
        }

        foreach (string child in Directory.EnumerateDirectories(directory))
        {
            Collect(child, nameBase, cases, visited);
        }
    }

    /// <summary><c>test_data_set_N</c> directories of a case, in numeric order of N.</summary>
    internal static List<string> DataSets(string caseDirectory)
    {
        var found = new List<(int Number, string Path)>();
        foreach (string path in Directory.EnumerateDirectories(caseDirectory, DataSetPrefix + "*"))
        {
            if (TryNumber(Path.GetFileName(path), DataSetPrefix, "", out int n))
            {
                found.Add((n, path));
            }
        }

        found.Sort(static (a, b) => a.Number.CompareTo(b.Number));
        return found.ConvertAll(static f => f.Path);
    }

    /// <summary><c>input_K.pb</c> (or <c>output_K.pb</c>) files of a data set, in numeric order of K.</summary>
    internal static List<string> NumberedFiles(string dataSet, string prefix)
    {
        var found = new List<(int Number, string Path)>();
        foreach (string path in Directory.EnumerateFiles(dataSet, prefix + "*.pb"))
        {
            if (TryNumber(Path.GetFileName(path), prefix, ".pb", out int n))
            {
                found.Add((n, path));
            }
        }

        found.Sort(static (a, b) => a.Number.CompareTo(b.Number));
        return found.ConvertAll(static f => f.Path);
    }

    private static bool TryNumber(string name, string prefix, string suffix, out int number)
    {
        number = 0;
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(suffix, StringComparison.Ordinal)
            || name.Length <= prefix.Length + suffix.Length)
        {
            return false;
        }

        ReadOnlySpan<char> digits = name.AsSpan(prefix.Length, name.Length - prefix.Length - suffix.Length);
        foreach (char c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out number);
    }
}
