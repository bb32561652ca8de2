using System.Diagnostics;

namespace Kairo.Onnx.TestData;

/// <summary>
/// Runs test cases in the ONNX test-data layout: loads <c>model.onnx</c>, feeds each <c>test_data_set_N</c>'s
/// <c>input_K.pb</c> files, and compares the outputs to its <c>output_K.pb</c> files within a <see cref="Tolerance"/>.
/// A file goes to the model input (or output) its TensorProto name matches, else to the one at its position K.
/// One runner may run cases from several threads at once. ONNX Runtime must be loaded.
/// </summary>
public sealed partial class TestCaseRunner
{
    public TestCaseRunner(SessionOptions? sessionOptions = null, Tolerance? tolerance = null)
    {
        SessionOptions = sessionOptions ?? SessionOptions.Default;
        Tolerance = tolerance ?? Tolerance.Default;
    }

    public SessionOptions SessionOptions { get; }

    public Tolerance Tolerance { get; }

    /// <summary>Runs the case in <paramref name="caseDirectory"/>, named by its directory name.</summary>
    public TestCaseResult Run(string caseDirectory) =>
        Run(new TestCase(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(caseDirectory))), caseDirectory));

    /// <summary>Runs one case. Never throws for a problem of the case itself: that becomes the result's status.</summary>
    public TestCaseResult Run(TestCase testCase)
    {
        ArgumentNullException.ThrowIfNull(testCase);
        long started = Stopwatch.GetTimestamp();
        int dataSetCount = 0;
        Outcome outcome;
        try
        {
            List<string> dataSets = DataSets(testCase.Directory);
            dataSetCount = dataSets.Count;
            outcome = RunCase(testCase.Directory, dataSets);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            outcome = Outcome.Error($"cannot read the case: {ex.Message}");
        }
        catch (ArgumentException ex)
        {
            outcome = Outcome.Unsupported($"the binding cannot express the case: {ex.Message}");
        }

        // ONNX Runtime's messages can span lines; a result is reported on one.
        string message = outcome.Message.ReplaceLineEndings(" ").Trim();
        return new TestCaseResult(testCase, outcome.Status, message, dataSetCount, Stopwatch.GetElapsedTime(started), outcome.Code, outcome.Mismatch);
    }

    /// <summary>
    /// Runs <paramref name="cases"/> on up to <paramref name="parallelism"/> threads. <paramref name="report"/>, when
    /// given, sees each result in the order of <paramref name="cases"/> as soon as it and every earlier one are done.
    /// </summary>
    public TestCaseResult[] RunAll(IReadOnlyList<TestCase> cases, int parallelism = 1, Action<TestCaseResult>? report = null)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        var results = new TestCaseResult?[cases.Count];
        var gate = new Lock();
        int claimed = -1;
        int reported = 0;
        Exception? reportFailure = null;

        void Work()
        {
            for (int i = Interlocked.Increment(ref claimed); i < results.Length; i = Interlocked.Increment(ref claimed))
            {
                results[i] = Run(cases[i]);
                if (report is null)
                {
                    continue;
                }

                lock (gate)
                {
                    while (reportFailure is null && reported < results.Length && results[reported] is { } done)
                    {
                        try
                        {
                            report(done);
                        }
                        catch (Exception ex)
                        {
                            reportFailure = ex;
                        }

                        reported++;
                    }
                }
            }
        }

        // Dedicated threads with a roomy stack: ONNX Runtime's graph passes recurse on deep models.
        var workers = new Thread[Math.Min(parallelism, Math.Max(cases.Count, 1))];
        for (int t = 0; t < workers.Length; t++)
        {
            workers[t] = new Thread(Work, maxStackSize: 16 << 20) { Name = $"kairo-testcase-{t}", IsBackground = true };
            workers[t].Start();
        }

        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        if (reportFailure is not null)
        {
            throw new InvalidOperationException($"reporting a test case result failed: {reportFailure.Message}", reportFailure);
        }

        return results!;
    }

    private Outcome RunCase(string directory, List<string> dataSets)
    {
        string modelPath = Path.Combine(directory, ModelFileName);
        if (!File.Exists(modelPath))
        {
            return Outcome.Error($"no {ModelFileName} in {directory}");
        }

        InferenceSession session;
        try
        {
            session = InferenceSession.Open(modelPath, SessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            return Outcome.Error($"ONNX Runtime refused to load the model: {ex.Message}", ex.ErrorCode);
        }

        using (session)
        {
            if ((NotATensor(session.Inputs, "input") ?? NotATensor(session.Outputs, "output")) is { } unsupported)
            {
                return Outcome.Unsupported(unsupported);
            }

            if (dataSets.Count == 0)
            {
                return Outcome.Failed($"no {DataSetPrefix}N directory: nothing to compare the model against");
            }

            foreach (string dataSet in dataSets)
            {
                Outcome? failed = RunDataSet(session, dataSet);
                if (failed is { } f)
                {
                    string where = dataSets.Count > 1 ? Path.GetFileName(dataSet) + ": " : "";
                    return f with { Message = where + f.Message };
                }
            }
        }

        return Outcome.Passed;
    }

    private static string? NotATensor(IReadOnlyList<NodeInfo> nodes, string role)
    {
        foreach (NodeInfo node in nodes)
        {
            if (node.Kind != OnnxValueKind.Tensor)
            {
                return $"model {role} '{node.Name}' is {TensorComparer.WithArticle(node.Kind)}; Kairo runs tensor inputs and outputs only";
            }
        }

        return null;
    }

    /// <summary>Null when every output of the data set matched.</summary>
    private Outcome? RunDataSet(InferenceSession session, string dataSet)
    {
        List<string> inputFiles = NumberedFiles(dataSet, "input_");
        List<string> outputFiles = NumberedFiles(dataSet, "output_");
        var inputData = new TensorData[inputFiles.Count];
        var outputData = new TensorData[outputFiles.Count];
        if ((ReadAll(dataSet, inputFiles, inputData) ?? ReadAll(dataSet, outputFiles, outputData)) is { } unreadable)
        {
            return unreadable;
        }

        if (Assign(inputData, inputFiles, session.Inputs, "input", out int[] inputSlots) is { } badInputs)
        {
            return badInputs;
        }

        if (Assign(outputData, outputFiles, session.Outputs, "output", out int[] outputSlots) is { } badOutputs)
        {
            return badOutputs;
        }

        var inputs = new OrtTensor[session.Inputs.Count];
        OrtTensor[]? outputs = null;
        try
        {
            for (int k = 0; k < inputData.Length; k++)
            {
                inputs[inputSlots[k]] = CreateTensor(inputData[k]);
            }

            try
            {
                outputs = session.Run(inputs);
            }
            catch (OnnxRuntimeException ex)
            {
                return Outcome.Error($"ONNX Runtime failed the run: {ex.Message}", ex.ErrorCode);
            }

            for (int k = 0; k < outputData.Length; k++)
            {
                int slot = outputSlots[k];
                TensorMismatch? mismatch = TensorComparer.Compare(session.Outputs[slot].Name, outputData[k], outputs[slot], Tolerance);
                if (mismatch is not null)
                {
                    return Outcome.Failed(mismatch.Message, mismatch);
                }
            }

            return null;
        }
        catch (OnnxRuntimeException ex)
        {
            return Outcome.Error($"ONNX Runtime refused an input tensor: {ex.Message}", ex.ErrorCode);
        }
        finally
        {
            DisposeAll(inputs);
            if (outputs is not null)
            {
                DisposeAll(outputs);
            }
        }
    }

    private static Outcome? ReadAll(string dataSet, List<string> files, TensorData[] into)
    {
        for (int i = 0; i < files.Count; i++)
        {
            try
            {
                into[i] = TensorProtoCodec.Decode(File.ReadAllBytes(files[i]));
            }
            catch (InvalidDataException ex)
            {
                return Outcome.Unsupported($"{Path.GetFileName(dataSet)}/{Path.GetFileName(files[i])} is not a TensorProto Kairo reads: {ex.Message}");
            }
        }

        return null;
    }

    /// <summary>Which model input (or output) each file goes to: by TensorProto name, else by position.</summary>
    private static Outcome? Assign(TensorData[] tensors, List<string> files, IReadOnlyList<NodeInfo> nodes, string role, out int[] slots)
    {
        slots = new int[tensors.Length];
        var takenBy = new int[nodes.Count];
        Array.Fill(takenBy, -1);
        for (int k = 0; k < tensors.Length; k++)
        {
            int slot = -1;
            if (!string.IsNullOrEmpty(tensors[k].Name))
            {
                for (int n = 0; n < nodes.Count && slot < 0; n++)
                {
                    slot = nodes[n].Name == tensors[k].Name ? n : -1;
                }
            }

            slot = slot >= 0 ? slot : k;
            string file = Path.GetFileName(files[k]);
            if (slot >= nodes.Count)
            {
                return Outcome.Failed($"{file} has no model {role} to go to: the model has {nodes.Count} {role}s");
            }

            if (takenBy[slot] >= 0)
            {
                return Outcome.Failed($"{Path.GetFileName(files[takenBy[slot]])} and {file} both go to model {role} '{nodes[slot].Name}'");
            }

            takenBy[slot] = k;
            slots[k] = slot;
        }

        // Every input needs a value; outputs without an expected file are simply not compared.
        if (role == "input")
        {
            int missing = Array.IndexOf(takenBy, -1);
            if (missing >= 0)
            {
                return Outcome.Failed($"no input_K.pb feeds model input '{nodes[missing].Name}'");
            }
        }

        return null;
    }

    private static OrtTensor CreateTensor(TensorData data)
    {
        if (data.ElementType == TensorElementType.String)
        {
            return OrtTensor.CreateStrings(data.GetStrings(), data.Dims);
        }

        if (data.ElementCount == 0)
        {
            // ONNX Runtime gives an empty tensor it allocates no data pointer, so an empty input goes over a
            // one-byte buffer of the runner's own that it never reads.
            return OrtTensor.CreateOver(data.ElementType, EmptyTensorData, 0, data.Dims);
        }

        OrtTensor tensor = OrtTensor.Allocate(data.ElementType, data.Dims);
        data.RawData.CopyTo(tensor.GetBytes());
        return tensor;
    }

    private static readonly unsafe nint EmptyTensorData = (nint)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1);

    private static void DisposeAll(OrtTensor?[] tensors)
    {
        foreach (OrtTensor? tensor in tensors)
        {
            tensor?.Dispose();
        }
    }

    private readonly record struct Outcome(TestCaseStatus Status, string Message, OrtErrorCode? Code = null, TensorMismatch? Mismatch = null)
    {
        public static Outcome Passed => new(TestCaseStatus.Passed, "");

        public static Outcome Failed(string message, TensorMismatch? mismatch = null) => new(TestCaseStatus.Failed, message, null, mismatch);

        public static Outcome Error(string message, OrtErrorCode? code = null) => new(TestCaseStatus.Error, message, code);

        public static Outcome Unsupported(string message) => new(TestCaseStatus.Unsupported, message);
    }
}
