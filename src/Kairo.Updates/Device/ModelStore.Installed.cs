using System.Text.Json;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Device;

// installed.json: which package of each model is active, which is the rollback target, which older ones are kept.
public sealed partial class ModelStore
{
    public const string InstalledFileName = "installed.json";

    /// <summary>The schema installed.json is written with; a larger one is a newer Kairo's format and is refused.</summary>
    internal const int InstalledSchema = 1;

    /// <summary>The path of installed.json.</summary>
    public string InstalledPath { get; }

    /// <summary>The model's entry in installed.json, or null when nothing was ever installed for it.</summary>
    /// <exception cref="InvalidDataException">installed.json does not read.</exception>
    public InstalledModel? Find(string model)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        lock (_gate)
        {
            return Load().GetValueOrDefault(model);
        }
    }

    /// <summary>Makes <paramref name="version"/> active; the active one becomes the rollback target, the target joins the older ones; the highest version rises. Then removes packages no longer kept.</summary>
    /// <remarks>
    /// Committing the package that is already active changes nothing but the highest version. A package that was the
    /// rollback target or an older one moves to active and out of those places. The older ones are kept newest first,
    /// each once, at most <c>keepOlder</c> of them. A cleanup that fails after the commit is written does not fail the
    /// commit: the directories stay until the next cleanup.
    /// </remarks>
    /// <exception cref="ArgumentException">The version is not stored (stage it first) or its fields are out of range.</exception>
    /// <exception cref="UpdateException">store_failed: installed.json could not be written.</exception>
    /// <exception cref="InvalidDataException">installed.json does not read.</exception>
    public void Commit(string model, InstalledVersion version)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentNullException.ThrowIfNull(version);
        if (version.Version < 1 || version.Release is null || !IsDigest(version.Digest))
        {
            throw new ArgumentException($"cannot commit {version} for {model}: a version is >= 1, has a release name and a store digest (64 lowercase hex digits)", nameof(version));
        }

        lock (_gate)
        {
            if (!Contains(version.Digest))
            {
                throw new ArgumentException($"cannot commit {model} v{version.Version}: package {version.Digest} is not in the store {_packages}; stage it first", nameof(version));
            }

            Dictionary<string, InstalledModel> models = Load();
            InstalledModel? entry = models.GetValueOrDefault(model);
            long highest = Math.Max(entry?.HighestVersion ?? 0, version.Version);
            if (entry?.Active?.Digest == version.Digest)
            {
                if (highest == entry.HighestVersion)
                {
                    _pinned.Remove(version.Digest);
                    return;
                }

                models[model] = entry with { HighestVersion = highest };
            }
            else
            {
                InstalledVersion? previous = entry?.Active;
                IReadOnlyList<InstalledVersion> older = Older([entry?.Previous, .. entry?.Older ?? []], version, previous);
                models[model] = new InstalledModel(model, version, previous, older, highest);
            }

            Save(models);
            _pinned.Remove(version.Digest);
        }

        CleanupAfterChange();
    }

    /// <summary>Makes the rollback target active again (the active one becomes an older one); false when there is none.</summary>
    /// <remarks>
    /// After a rollback there is no rollback target: going forward again is a new install. The highest version stays
    /// where it is, so the version rolled back from cannot be installed again unnoticed as "newer". Packages no longer
    /// kept are removed, as after a commit.
    /// </remarks>
    /// <exception cref="UpdateException">store_failed: installed.json could not be written.</exception>
    /// <exception cref="InvalidDataException">installed.json does not read.</exception>
    public bool RollBack(string model)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        lock (_gate)
        {
            Dictionary<string, InstalledModel> models = Load();
            if (!models.TryGetValue(model, out InstalledModel? entry) || entry.Previous is null)
            {
                return false;
            }

            IReadOnlyList<InstalledVersion> older = Older([entry.Active, .. entry.Older], entry.Previous, null);
            models[model] = entry with { Active = entry.Previous, Previous = null, Older = older };
            Save(models);
        }

        CleanupAfterChange();
        return true;
    }

    /// <summary>
    /// Makes no stored version active: the model runs what its profile names again (a rollback over the first
    /// installed version). The active one becomes the newest older one; there is no rollback target afterwards, and
    /// the highest version stays. False when no version is active.
    /// </summary>
    /// <exception cref="UpdateException">store_failed: installed.json could not be written.</exception>
    /// <exception cref="InvalidDataException">installed.json does not read.</exception>
    public bool Deactivate(string model)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        lock (_gate)
        {
            Dictionary<string, InstalledModel> models = Load();
            if (!models.TryGetValue(model, out InstalledModel? entry) || entry.Active is null)
            {
                return false;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            InstalledVersion[] older = ((InstalledVersion?[])[entry.Active, entry.Previous, .. entry.Older])
                .OfType<InstalledVersion>().Where(v => seen.Add(v.Digest)).Take(_keepOlder).ToArray();
            models[model] = entry with { Active = null, Previous = null, Older = older };
            Save(models);
        }

        CleanupAfterChange();
        return true;
    }

    /// <summary>The versions of a model the store keeps.</summary>
    private static IEnumerable<InstalledVersion> Kept(InstalledModel model)
    {
        if (model.Active is not null)
        {
            yield return model.Active;
        }

        if (model.Previous is not null)
        {
            yield return model.Previous;
        }

        foreach (InstalledVersion version in model.Older)
        {
            yield return version;
        }
    }

    /// <summary><paramref name="candidates"/> in order, each digest once, without the active and previous ones, at most keepOlder.</summary>
    private InstalledVersion[] Older(IEnumerable<InstalledVersion?> candidates, InstalledVersion active, InstalledVersion? previous)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { active.Digest };
        if (previous is not null)
        {
            seen.Add(previous.Digest);
        }

        return candidates.OfType<InstalledVersion>().Where(v => seen.Add(v.Digest)).Take(_keepOlder).ToArray();
    }

    private void CleanupAfterChange()
    {
        try
        {
            Cleanup();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // installed.json is written; directories that would not go are retried by the next cleanup.
        }
    }

    /// <summary>installed.json read and checked; empty when there is none. Call under the gate.</summary>
    private Dictionary<string, InstalledModel> Load()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(InstalledPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return new Dictionary<string, InstalledModel>(StringComparer.Ordinal);
        }

        InstalledDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, DeviceJson.Files.InstalledDocument);
        }
        catch (JsonException ex)
        {
            throw Corrupt($"is not readable JSON {JsonDocuments.Where(ex)} ({ex.Message})", ex);
        }

        if (document is null)
        {
            throw Corrupt("holds null instead of an object");
        }

        if (document.Schema is not { } schema || schema < 1)
        {
            throw Corrupt($"has schema {document.Schema?.ToString() ?? "(missing)"}; expected {InstalledSchema}");
        }

        if (schema > InstalledSchema)
        {
            throw Corrupt($"has schema {schema}, written by a newer Kairo; this one reads schema {InstalledSchema}");
        }

        var models = new Dictionary<string, InstalledModel>(StringComparer.Ordinal);
        foreach ((string name, InstalledModelDocument? model) in document.Models ?? throw Corrupt("has no member \"models\""))
        {
            string at = $"models.{name}";
            if (model is null)
            {
                throw Corrupt($"{at} is null");
            }

            var older = new List<InstalledVersion>();
            for (int i = 0; i < (model.Older?.Count ?? 0); i++)
            {
                older.Add(ToVersion(model.Older![i], $"{at}.older[{i}]") ?? throw Corrupt($"{at}.older[{i}] is null"));
            }

            long highest = model.HighestVersion ?? throw Corrupt($"{at}.highestVersion is missing");
            if (highest < 0)
            {
                throw Corrupt($"{at}.highestVersion is {highest}; expected >= 0");
            }

            models[name] = new InstalledModel(name, ToVersion(model.Active, $"{at}.active"), ToVersion(model.Previous, $"{at}.previous"), older, highest);
        }

        return models;
    }

    private InstalledVersion? ToVersion(InstalledVersionDocument? document, string at)
    {
        if (document is null)
        {
            return null;
        }

        if (document.Version is not { } version || version < 1)
        {
            throw Corrupt($"{at}.version is {document.Version?.ToString() ?? "(missing)"}; expected a version >= 1");
        }

        if (document.Release is null)
        {
            throw Corrupt($"{at}.release is missing");
        }

        if (!IsDigest(document.Digest))
        {
            throw Corrupt($"{at}.digest is '{document.Digest}'; expected 64 lowercase hex digits");
        }

        return new InstalledVersion(version, document.Release, document.Digest!);
    }

    private void Save(Dictionary<string, InstalledModel> models)
    {
        var document = new InstalledDocument { Schema = InstalledSchema, Models = [] };
        foreach (InstalledModel model in models.Values.OrderBy(m => m.Model, StringComparer.Ordinal))
        {
            document.Models[model.Model] = new InstalledModelDocument
            {
                Active = ToDocument(model.Active),
                Previous = ToDocument(model.Previous),
                Older = [.. model.Older.Select(ToDocument)],
                HighestVersion = model.HighestVersion,
            };
        }

        try
        {
            DurableFile.WriteAtomically(InstalledPath, DeviceJson.Serialize(document, DeviceJson.Files.InstalledDocument, indented: true));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UpdateException(
                UpdateFailure.StoreFailed,
                $"cannot write {InstalledPath}: {ex.Message}; it holds either the previous content or, when only the directory's fsync failed, the new one not yet durable (check free space and permissions of {Directory})",
                ex);
        }
    }

    private static InstalledVersionDocument? ToDocument(InstalledVersion? version) =>
        version is null ? null : new InstalledVersionDocument { Version = version.Version, Release = version.Release, Digest = version.Digest };

    private InvalidDataException Corrupt(string problem, Exception? inner = null) => new(
        $"{InstalledPath} {problem}. The store does not guess which model versions are installed: restore the file " +
        "(or repair the named member), or delete it to start over with an empty store (the next cleanup then removes every stored package)",
        inner);
}
