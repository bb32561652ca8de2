namespace Kairo.Onnx.Interop;

// The OrtApi slots Kairo calls, by index. Opaque ONNX Runtime objects travel as nint; every call that returns
// OrtStatus* returns nint (0 = success). Slot numbers come from the declaration order of struct OrtApi.
internal static unsafe partial class OnnxRuntime
{
    internal static delegate* unmanaged<nint, int> s_getErrorCode;                                   // 1
    internal static delegate* unmanaged<nint, byte*> s_getErrorMessage;                              // 2
    internal static delegate* unmanaged<int, byte*, nint*, nint> s_createEnv;                        // 3
    internal static delegate* unmanaged<nint, byte*, nint, nint*, nint> s_createSession;            // 7
    internal static delegate* unmanaged<nint, void*, nuint, nint, nint*, nint> s_createSessionFromArray; // 8
    internal static delegate* unmanaged<nint, nint, byte**, nint*, nuint, byte**, nuint, nint*, nint> s_run; // 9
    internal static delegate* unmanaged<nint*, nint> s_createSessionOptions;                         // 10
    internal static delegate* unmanaged<nint, byte*, nint> s_setOptimizedModelFilePath;              // 11
    internal static delegate* unmanaged<nint, int, nint> s_setSessionExecutionMode;                  // 13
    internal static delegate* unmanaged<nint, byte*, nint> s_setSessionLogId;                        // 20
    internal static delegate* unmanaged<nint, int, nint> s_setSessionLogSeverityLevel;               // 22
    internal static delegate* unmanaged<nint, int, nint> s_setSessionGraphOptimizationLevel;         // 23
    internal static delegate* unmanaged<nint, int, nint> s_setIntraOpNumThreads;                     // 24
    internal static delegate* unmanaged<nint, int, nint> s_setInterOpNumThreads;                     // 25
    internal static delegate* unmanaged<nint, nuint*, nint> s_sessionGetInputCount;                  // 30
    internal static delegate* unmanaged<nint, nuint*, nint> s_sessionGetOutputCount;                 // 31
    internal static delegate* unmanaged<nint, nuint, nint*, nint> s_sessionGetInputTypeInfo;         // 33
    internal static delegate* unmanaged<nint, nuint, nint*, nint> s_sessionGetOutputTypeInfo;        // 34
    internal static delegate* unmanaged<nint, nuint, nint, byte**, nint> s_sessionGetInputName;     // 36
    internal static delegate* unmanaged<nint, nuint, nint, byte**, nint> s_sessionGetOutputName;    // 37
    internal static delegate* unmanaged<nint*, nint> s_createRunOptions;                             // 39
    internal static delegate* unmanaged<nint, int, nint> s_runOptionsSetRunLogSeverityLevel;         // 41
    internal static delegate* unmanaged<nint, byte*, nint> s_runOptionsSetRunTag;                    // 42
    internal static delegate* unmanaged<nint, nint> s_runOptionsSetTerminate;                        // 46
    internal static delegate* unmanaged<nint, nint> s_runOptionsUnsetTerminate;                      // 47
    internal static delegate* unmanaged<nint, long*, nuint, int, nint*, nint> s_createTensorAsOrtValue; // 48
    internal static delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint> s_createTensorWithDataAsOrtValue; // 49
    internal static delegate* unmanaged<nint, void**, nint> s_getTensorMutableData;                  // 51
    internal static delegate* unmanaged<nint, byte**, nuint, nint> s_fillStringTensor;               // 52
    internal static delegate* unmanaged<nint, nuint*, nint> s_getStringTensorDataLength;            // 53
    internal static delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint> s_getStringTensorContent; // 54
    internal static delegate* unmanaged<nint, nint*, nint> s_castTypeInfoToTensorInfo;               // 55
    internal static delegate* unmanaged<nint, int*, nint> s_getOnnxTypeFromTypeInfo;                 // 56
    internal static delegate* unmanaged<nint, int*, nint> s_getTensorElementType;                    // 60
    internal static delegate* unmanaged<nint, nuint*, nint> s_getDimensionsCount;                    // 61
    internal static delegate* unmanaged<nint, long*, nuint, nint> s_getDimensions;                   // 62
    internal static delegate* unmanaged<nint, byte**, nuint, nint> s_getSymbolicDimensions;          // 63
    internal static delegate* unmanaged<nint, nint*, nint> s_getTensorTypeAndShape;                  // 65
    internal static delegate* unmanaged<nint, int*, nint> s_getValueType;                            // 67
    internal static delegate* unmanaged<int, int, nint*, nint> s_createCpuMemoryInfo;                // 69
    internal static delegate* unmanaged<nint, void*, nint> s_allocatorFree;                          // 76
    internal static delegate* unmanaged<nint*, nint> s_getAllocatorWithDefaultOptions;               // 78
    internal static delegate* unmanaged<nint, void> s_releaseEnv;                                    // 92
    internal static delegate* unmanaged<nint, void> s_releaseStatus;                                 // 93
    internal static delegate* unmanaged<nint, void> s_releaseMemoryInfo;                             // 94
    internal static delegate* unmanaged<nint, void> s_releaseSession;                                // 95
    internal static delegate* unmanaged<nint, void> s_releaseValue;                                  // 96
    internal static delegate* unmanaged<nint, void> s_releaseRunOptions;                             // 97
    internal static delegate* unmanaged<nint, void> s_releaseTypeInfo;                               // 98
    internal static delegate* unmanaged<nint, void> s_releaseTensorTypeAndShapeInfo;                 // 99
    internal static delegate* unmanaged<nint, void> s_releaseSessionOptions;                         // 100
    internal static delegate* unmanaged<nint, nint*, nint> s_sessionGetModelMetadata;                // 111
    internal static delegate* unmanaged<nint, nint, byte**, nint> s_modelMetadataGetProducerName;    // 112
    internal static delegate* unmanaged<nint, nint, byte**, nint> s_modelMetadataGetGraphName;       // 113
    internal static delegate* unmanaged<nint, nint, byte**, nint> s_modelMetadataGetDomain;          // 114
    internal static delegate* unmanaged<nint, nint, byte**, nint> s_modelMetadataGetDescription;     // 115
    internal static delegate* unmanaged<nint, nint, byte*, byte**, nint> s_modelMetadataLookupCustomMetadataMap; // 116
    internal static delegate* unmanaged<nint, long*, nint> s_modelMetadataGetVersion;                // 117
    internal static delegate* unmanaged<nint, void> s_releaseModelMetadata;                          // 118
    internal static delegate* unmanaged<nint, nint, byte***, long*, nint> s_modelMetadataGetCustomMetadataMapKeys; // 123
    internal static delegate* unmanaged<byte***, int*, nint> s_getAvailableProviders;               // 125
    internal static delegate* unmanaged<byte**, int, nint> s_releaseAvailableProviders;              // 126
    internal static delegate* unmanaged<nint, byte*, byte*, nint> s_addSessionConfigEntry;           // 130
    internal static delegate* unmanaged<nint, nint, nint, nint> s_runWithBinding;                    // 133
    internal static delegate* unmanaged<nint, nint*, nint> s_createIoBinding;                        // 134
    internal static delegate* unmanaged<nint, void> s_releaseIoBinding;                              // 135
    internal static delegate* unmanaged<nint, byte*, nint, nint> s_bindInput;                        // 136
    internal static delegate* unmanaged<nint, byte*, nint, nint> s_bindOutput;                       // 137
    internal static delegate* unmanaged<nint, byte*, nint, nint> s_bindOutputToDevice;               // 138
    internal static delegate* unmanaged<nint, nint, nint**, nuint*, nint> s_getBoundOutputValues;    // 140
    internal static delegate* unmanaged<nint, void> s_clearBoundInputs;                              // 141
    internal static delegate* unmanaged<nint, void> s_clearBoundOutputs;                             // 142
    internal static delegate* unmanaged<nint, nint, nint> s_appendExecutionProviderCudaV2;           // 204
    internal static delegate* unmanaged<nint*, nint> s_createCudaProviderOptions;                    // 205
    internal static delegate* unmanaged<nint, byte**, byte**, nuint, nint> s_updateCudaProviderOptions; // 206
    internal static delegate* unmanaged<nint, void> s_releaseCudaProviderOptions;                    // 208
    internal static delegate* unmanaged<nint, byte*, byte**, byte**, nuint, nint> s_appendExecutionProvider; // 216
    internal static delegate* unmanaged<nint, nint, nint> s_appendExecutionProviderCann;             // 220
    internal static delegate* unmanaged<nint*, nint> s_createCannProviderOptions;                    // 221
    internal static delegate* unmanaged<nint, byte**, byte**, nuint, nint> s_updateCannProviderOptions; // 222
    internal static delegate* unmanaged<nint, void> s_releaseCannProviderOptions;                    // 224
    internal static delegate* unmanaged<byte*> s_getBuildInfoString;                                 // 254
    internal static delegate* unmanaged<nint, nint, byte**, nint> s_modelMetadataGetGraphDescription; // 158

    private static void Bind(void** api)
    {
        s_getErrorCode = (delegate* unmanaged<nint, int>)api[1];
        s_getErrorMessage = (delegate* unmanaged<nint, byte*>)api[2];
        s_createEnv = (delegate* unmanaged<int, byte*, nint*, nint>)api[3];
        s_createSession = (delegate* unmanaged<nint, byte*, nint, nint*, nint>)api[7];
        s_createSessionFromArray = (delegate* unmanaged<nint, void*, nuint, nint, nint*, nint>)api[8];
        s_run = (delegate* unmanaged<nint, nint, byte**, nint*, nuint, byte**, nuint, nint*, nint>)api[9];
        s_createSessionOptions = (delegate* unmanaged<nint*, nint>)api[10];
        s_setOptimizedModelFilePath = (delegate* unmanaged<nint, byte*, nint>)api[11];
        s_setSessionExecutionMode = (delegate* unmanaged<nint, int, nint>)api[13];
        s_setSessionLogId = (delegate* unmanaged<nint, byte*, nint>)api[20];
        s_setSessionLogSeverityLevel = (delegate* unmanaged<nint, int, nint>)api[22];
        s_setSessionGraphOptimizationLevel = (delegate* unmanaged<nint, int, nint>)api[23];
        s_setIntraOpNumThreads = (delegate* unmanaged<nint, int, nint>)api[24];
        s_setInterOpNumThreads = (delegate* unmanaged<nint, int, nint>)api[25];
        s_sessionGetInputCount = (delegate* unmanaged<nint, nuint*, nint>)api[30];
        s_sessionGetOutputCount = (delegate* unmanaged<nint, nuint*, nint>)api[31];
        s_sessionGetInputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)api[33];
        s_sessionGetOutputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)api[34];
        s_sessionGetInputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)api[36];
        s_sessionGetOutputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)api[37];
        s_createRunOptions = (delegate* unmanaged<nint*, nint>)api[39];
        s_runOptionsSetRunLogSeverityLevel = (delegate* unmanaged<nint, int, nint>)api[41];
        s_runOptionsSetRunTag = (delegate* unmanaged<nint, byte*, nint>)api[42];
        s_runOptionsSetTerminate = (delegate* unmanaged<nint, nint>)api[46];
        s_runOptionsUnsetTerminate = (delegate* unmanaged<nint, nint>)api[47];
        s_createTensorAsOrtValue = (delegate* unmanaged<nint, long*, nuint, int, nint*, nint>)api[48];
        s_createTensorWithDataAsOrtValue = (delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)api[49];
        s_getTensorMutableData = (delegate* unmanaged<nint, void**, nint>)api[51];
        s_fillStringTensor = (delegate* unmanaged<nint, byte**, nuint, nint>)api[52];
        s_getStringTensorDataLength = (delegate* unmanaged<nint, nuint*, nint>)api[53];
        s_getStringTensorContent = (delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint>)api[54];
        s_castTypeInfoToTensorInfo = (delegate* unmanaged<nint, nint*, nint>)api[55];
        s_getOnnxTypeFromTypeInfo = (delegate* unmanaged<nint, int*, nint>)api[56];
        s_getTensorElementType = (delegate* unmanaged<nint, int*, nint>)api[60];
        s_getDimensionsCount = (delegate* unmanaged<nint, nuint*, nint>)api[61];
        s_getDimensions = (delegate* unmanaged<nint, long*, nuint, nint>)api[62];
        s_getSymbolicDimensions = (delegate* unmanaged<nint, byte**, nuint, nint>)api[63];
        s_getTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)api[65];
        s_getValueType = (delegate* unmanaged<nint, int*, nint>)api[67];
        s_createCpuMemoryInfo = (delegate* unmanaged<int, int, nint*, nint>)api[69];
        s_allocatorFree = (delegate* unmanaged<nint, void*, nint>)api[76];
        s_getAllocatorWithDefaultOptions = (delegate* unmanaged<nint*, nint>)api[78];
        s_releaseEnv = (delegate* unmanaged<nint, void>)api[92];
        s_releaseStatus = (delegate* unmanaged<nint, void>)api[93];
        s_releaseMemoryInfo = (delegate* unmanaged<nint, void>)api[94];
        s_releaseSession = (delegate* unmanaged<nint, void>)api[95];
        s_releaseValue = (delegate* unmanaged<nint, void>)api[96];
        s_releaseRunOptions = (delegate* unmanaged<nint, void>)api[97];
        s_releaseTypeInfo = (delegate* unmanaged<nint, void>)api[98];
        s_releaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)api[99];
        s_releaseSessionOptions = (delegate* unmanaged<nint, void>)api[100];
        s_sessionGetModelMetadata = (delegate* unmanaged<nint, nint*, nint>)api[111];
        s_modelMetadataGetProducerName = (delegate* unmanaged<nint, nint, byte**, nint>)api[112];
        s_modelMetadataGetGraphName = (delegate* unmanaged<nint, nint, byte**, nint>)api[113];
        s_modelMetadataGetDomain = (delegate* unmanaged<nint, nint, byte**, nint>)api[114];
        s_modelMetadataGetDescription = (delegate* unmanaged<nint, nint, byte**, nint>)api[115];
        s_modelMetadataLookupCustomMetadataMap = (delegate* unmanaged<nint, nint, byte*, byte**, nint>)api[116];
        s_modelMetadataGetVersion = (delegate* unmanaged<nint, long*, nint>)api[117];
        s_releaseModelMetadata = (delegate* unmanaged<nint, void>)api[118];
        s_modelMetadataGetCustomMetadataMapKeys = (delegate* unmanaged<nint, nint, byte***, long*, nint>)api[123];
        s_getAvailableProviders = (delegate* unmanaged<byte***, int*, nint>)api[125];
        s_releaseAvailableProviders = (delegate* unmanaged<byte**, int, nint>)api[126];
        s_addSessionConfigEntry = (delegate* unmanaged<nint, byte*, byte*, nint>)api[130];
        s_runWithBinding = (delegate* unmanaged<nint, nint, nint, nint>)api[133];
        s_createIoBinding = (delegate* unmanaged<nint, nint*, nint>)api[134];
        s_releaseIoBinding = (delegate* unmanaged<nint, void>)api[135];
        s_bindInput = (delegate* unmanaged<nint, byte*, nint, nint>)api[136];
        s_bindOutput = (delegate* unmanaged<nint, byte*, nint, nint>)api[137];
        s_bindOutputToDevice = (delegate* unmanaged<nint, byte*, nint, nint>)api[138];
        s_getBoundOutputValues = (delegate* unmanaged<nint, nint, nint**, nuint*, nint>)api[140];
        s_clearBoundInputs = (delegate* unmanaged<nint, void>)api[141];
        s_clearBoundOutputs = (delegate* unmanaged<nint, void>)api[142];
        s_modelMetadataGetGraphDescription = (delegate* unmanaged<nint, nint, byte**, nint>)api[158];
        s_appendExecutionProviderCudaV2 = (delegate* unmanaged<nint, nint, nint>)api[204];
        s_createCudaProviderOptions = (delegate* unmanaged<nint*, nint>)api[205];
        s_updateCudaProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)api[206];
        s_releaseCudaProviderOptions = (delegate* unmanaged<nint, void>)api[208];
        s_appendExecutionProvider = (delegate* unmanaged<nint, byte*, byte**, byte**, nuint, nint>)api[216];
        s_appendExecutionProviderCann = (delegate* unmanaged<nint, nint, nint>)api[220];
        s_createCannProviderOptions = (delegate* unmanaged<nint*, nint>)api[221];
        s_updateCannProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)api[222];
        s_releaseCannProviderOptions = (delegate* unmanaged<nint, void>)api[224];
        s_getBuildInfoString = (delegate* unmanaged<byte*>)api[254];
    }
}
