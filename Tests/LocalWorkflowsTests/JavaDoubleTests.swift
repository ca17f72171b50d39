import Testing
import LocalWorkflows

@Suite struct JavaDoubleTests {
    /// Java's Double.toString, as the Step Functions service prints epoch timestamps.
    @Test(arguments: [
        (1.486772644911e9, "1.486772644911E9"),
        (1764061200.0, "1.7640612E9"),
        (1764061200.2, "1.7640612002E9"),
        (1764061200.02, "1.76406120002E9"),
        (1764061200.123, "1.764061200123E9"),
        (1.0e7, "1.0E7"),
        (9999999.0, "9999999.0"),
        (1234.5, "1234.5"),
        (3.0, "3.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (0.0, "0.0"),
        (-2.5, "-2.5"),
        (-1.5e9, "-1.5E9"),
        (100.0, "100.0"),
        (0.1, "0.1"),
        (1.0e21, "1.0E21"),
        (123456789012.5, "1.234567890125E11"),
    ])
    func formatsLikeJava(value: Double, expected: String) {
        #expect(WorkflowEngine.javaDouble(value) == expected)
    }
}
