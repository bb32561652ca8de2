namespace Kairo.Onnx.TestData;

/// <summary>
/// One test case in the ONNX test-data layout: a directory holding <c>model.onnx</c> and
/// <c>test_data_set_N/input_K.pb</c>, <c>output_K.pb</c>.
/// </summary>
/// <param name="Name">How reports name the case, e.g. <c>node/test_abs</c>; '/'-separated, stable across machines.</param>
/// <param name="Directory">The case's directory.</param>
public sealed record TestCase(string Name, string Directory)
{
    public override string ToString() => Name;
}

public enum TestCaseStatus
{
    /// <summary>Every output of every data set matched within tolerance.</summary>
    Passed,

    /// <summary>An output differed from its expected value, or the data sets do not fit the model's inputs and outputs.</summary>
    Failed,

    /// <summary>ONNX Runtime refused to load or run the model, or the case's files could not be read.</summary>
    Error,

    /// <summary>
    /// The case needs what the binding or the codec cannot express: a sequence, map or optional input or output, or a
    /// <c>.pb</c> file that is not a TensorProto.
    /// </summary>
    Unsupported,
}

/// <summary>What became of one test case.</summary>
/// <param name="Message">Empty when passed; otherwise one line saying why, naming the data set and output or the stage that failed.</param>
/// <param name="DataSetCount">The case's <c>test_data_set_N</c> directories.</param>
/// <param name="ErrorCode">ONNX Runtime's code for an <see cref="TestCaseStatus.Error"/> it reported; null otherwise.</param>
/// <param name="Mismatch">The first output that differed, for <see cref="TestCaseStatus.Failed"/> on values, type or shape.</param>
public sealed record TestCaseResult(
    TestCase Case,
    TestCaseStatus Status,
    string Message,
    int DataSetCount,
    TimeSpan Duration,
    OrtErrorCode? ErrorCode = null,
    TensorMismatch? Mismatch = null)
{
    public string Name => Case.Name;

    public bool Passed => Status == TestCaseStatus.Passed;
}
